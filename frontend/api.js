// The backend's routes (docs/http_api.md), fetched with relative URLs only, so
// that the panel works under TensorBoard's --path_prefix. Relative URLs resolve
// against the iframe's <base>, which is /data/plugin/featviz/.

/** An error carrying the backend's plain-text message. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

async function getJson(url) {
  let response;
  try {
    response = await fetch(url, {credentials: "same-origin"});
  } catch (error) {
    throw new ApiError(`Could not reach TensorBoard (${error.message}).`, 0);
  }
  if (!response.ok) {
    const text = (await response.text().catch(() => "")).trim();
    throw new ApiError(
        `${url.split("?")[0]} failed: ${response.status} ${text || response.statusText}`,
        response.status);
  }
  try {
    return await response.json();
  } catch (error) {
    throw new ApiError(`${url.split("?")[0]} returned invalid JSON.`, response.status);
  }
}

function query(params) {
  return new URLSearchParams(params).toString();
}

/** {run: {tag: {kind, layer, units, display_shape, value_range, description}}} */
export function fetchTags() {
  return getJson("./tags");
}

/** {run, tag, kind, steps: [{step, wall_time, units, activations, seconds, images}]} */
export function fetchSteps(run, tag) {
  return getJson(`./steps?${query({run, tag})}`);
}

/** The URL of one PNG by its blob key (for an <img> src). */
export function imageUrl(key) {
  return `./image?${query({key})}`;
}
