// How big a visualization is drawn: small images are upscaled by a whole
// factor with crisp pixels (image-rendering: pixelated), big ones scaled down.
import {el} from "./dom.js";
import {imageUrl} from "./api.js";

/** Target edge of a tile in CSS pixels, by size setting. */
export const TILE_SIZES = {small: 64, medium: 96, large: 160};

/** {width, height, pixelated} of an image of display_shape [H, W, C] at `target` px. */
export function displaySize(displayShape, target = TILE_SIZES.medium) {
  const [h, w] = Array.isArray(displayShape) && displayShape.length >= 2
      ? displayShape : [target, target];
  const longest = Math.max(h, w, 1);
  if (longest <= target) {
    const factor = Math.max(1, Math.round(target / longest));
    return {width: w * factor, height: h * factor, pixelated: factor > 1};
  }
  const scale = target / longest;
  return {width: Math.round(w * scale), height: Math.round(h * scale), pixelated: false};
}

/** An <img> of the blob `key`, sized by `size` (from displaySize). */
export function visualizationImage(key, size, alt, className = "fv-img") {
  const img = el("img", {class: className, alt, draggable: "false", decoding: "async"});
  setImage(img, key, size);
  return img;
}

/** Points an existing <img> at another blob, keeping it until the new one loads. */
export function setImage(img, key, size) {
  if (size) {
    img.width = size.width;
    img.height = size.height;
    img.classList.toggle("fv-pixelated", size.pixelated);
  }
  const src = imageUrl(key);
  if (img.getAttribute("src") !== src) {
    img.classList.remove("fv-img-broken");
    img.setAttribute("src", src);
  }
  img.dataset.key = key;
}

/** Marks images that fail to load, so the failure shows as more than a blank. */
export function watchForErrors(img) {
  img.addEventListener("error", () => img.classList.add("fv-img-broken"));
  img.addEventListener("load", () => img.classList.remove("fv-img-broken"));
  return img;
}
