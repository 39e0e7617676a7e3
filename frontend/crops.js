// Where a dataset example of a feature-map unit is cut: the receptive field
// of the position where the unit responds most, clipped to the image; and how
// a picture is laid out in its frame to show that box (a crop) or the whole
// image with the box marked. Pure geometry: examples_tile.js applies it with
// CSS (an overflow-hidden frame and a scaled, offset <img>).

/** Two positive whole numbers, or null. */
function pairOf(values) {
  if (!Array.isArray(values) || values.length < 2) return null;
  const [a, b] = values.map(Number);
  return a > 0 && b > 0 ? [a, b] : null;
}

/**
 * The box of one grid position, in image pixels {top, left, bottom, right}:
 * a box of the receptive field's size centred at ((row + 0.5) * H / rows,
 * (col + 0.5) * W / cols), clipped to the image. Null when the tag has no
 * grid (a Dense layer), no receptive field or no picture shape, or when
 * `position` is not a [row, col] pair.
 *
 * info: the tag's /tags entry ({display_shape [H, W, C], grid_shape [rows,
 * cols], receptive_field [h, w]}).
 */
export function receptiveBox(info, position) {
  const shape = pairOf(info && info.display_shape);
  const grid = pairOf(info && info.grid_shape);
  const field = pairOf(info && info.receptive_field);
  if (!shape || !grid || !field || !Array.isArray(position) || position.length !== 2 ||
      !position.every(Number.isInteger)) {
    return null;
  }
  const [height, width] = shape;
  const [row, col] = position;
  const centreY = (row + 0.5) * height / grid[0];
  const centreX = (col + 0.5) * width / grid[1];
  const clip = (value, high) => Math.min(high, Math.max(0, value));
  return {
    top: clip(centreY - field[0] / 2, height), bottom: clip(centreY + field[0] / 2, height),
    left: clip(centreX - field[1] / 2, width), right: clip(centreX + field[1] / 2, width),
    centreY, centreX,
  };
}

/**
 * The scale at which `longest` image pixels fill about `target` CSS pixels:
 * a whole factor when upscaling (crisp pixels), else a fraction.
 */
function scaleFor(longest, target) {
  if (longest <= target) {
    const factor = Math.max(1, Math.round(target / longest));
    return {scale: factor, pixelated: factor > 1};
  }
  return {scale: target / longest, pixelated: false};
}

/**
 * Where [low, high] of one axis is shown through a window of `size` pixels
 * centred at `centre`, moved as little as needed to hold all of [low, high].
 */
function windowStart(centre, size, low, high) {
  let start = centre - size / 2;
  if (low < start) start = low;
  if (high > start + size) start = high - size;
  return start;
}

/**
 * How to draw one example at about `target` CSS pixels.
 *
 * Crop (mode "crop" and a box): the frame is the receptive field (at most
 * the image in each direction) at one scale for every example of the layer;
 * the whole picture is drawn at that scale, offset so that exactly the
 * clipped box shows, where it lies in the field (the part of the field
 * outside the image stays empty). Whole (mode "whole", or no box): the frame
 * is the picture; `box`, when given, is drawn as an outline.
 *
 * Returns {mode, frame: {width, height}, picture: {width, height, left,
 * top}, outline: {left, top, width, height} or null, pixelated}, in CSS
 * pixels.
 */
export function exampleLayout(info, box, mode, target) {
  const [height, width] = pairOf(info && info.display_shape) || [target, target];
  if (box && mode === "crop") {
    const field = pairOf(info.receptive_field);
    const windowHeight = Math.min(field[0], height);
    const windowWidth = Math.min(field[1], width);
    const {scale, pixelated} = scaleFor(Math.max(windowHeight, windowWidth), target);
    const top = windowStart(box.centreY, windowHeight, box.top, box.bottom);
    const left = windowStart(box.centreX, windowWidth, box.left, box.right);
    return {
      mode: "crop", pixelated,
      frame: {width: Math.round(windowWidth * scale), height: Math.round(windowHeight * scale)},
      picture: {width: width * scale, height: height * scale,
                left: -left * scale, top: -top * scale},
      outline: null,
    };
  }
  const {scale, pixelated} = scaleFor(Math.max(height, width), target);
  const frame = {width: Math.round(width * scale), height: Math.round(height * scale)};
  const sx = frame.width / width;
  const sy = frame.height / height;
  return {
    mode: "whole", pixelated, frame,
    picture: {width: frame.width, height: frame.height, left: 0, top: 0},
    outline: box ? {left: box.left * sx, top: box.top * sy,
                    width: (box.right - box.left) * sx,
                    height: (box.bottom - box.top) * sy} : null,
  };
}
