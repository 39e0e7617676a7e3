// A sprite sheet of N thumbnails in the Projector's layout (ceil(sqrt(N)) per
// row, row by row) and cutting one of them out onto a canvas, pixel-exact.
import {imageUrl} from "./api.js";

/** {sx, sy, w, h}: where thumbnail `index` of `count` lies in the sprite. */
export function spriteCell(index, count, height, width) {
  const columns = Math.max(1, Math.ceil(Math.sqrt(count)));
  return {sx: (index % columns) * width, sy: Math.floor(index / columns) * height,
          w: width, h: height};
}

export class SpriteSheet {
  /** key: the sprite's blob key; count: N; displayShape: [H, W, C] of a thumbnail. */
  constructor(key, count, displayShape) {
    this.key = key;
    this.count = count;
    [this.height, this.width] = displayShape;
    this.image = new Image();
    this.image.decoding = "async";
    this.failed = false;
    this.ready = new Promise((resolve) => {
      this.image.addEventListener("load", () => resolve(true), {once: true});
      this.image.addEventListener("error", () => { this.failed = true; resolve(false); },
                                  {once: true});
    });
    this.image.src = imageUrl(key);
  }

  get loaded() {
    return this.image.complete && this.image.naturalWidth > 0;
  }

  /** Draws thumbnail `index` over the whole `canvas`; false if not loaded yet. */
  draw(canvas, index) {
    if (!this.loaded || index < 0 || index >= this.count) return false;
    const {sx, sy, w, h} = spriteCell(index, this.count, this.height, this.width);
    const context = canvas.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.drawImage(this.image, sx, sy, w, h, 0, 0, canvas.width, canvas.height);
    return true;
  }
}
