// API keys: when the server has HEADWATER_API_KEYS, the UI sends a key kept in this browser.
import { h } from "./dom.js";

const STORAGE = "headwater.apiKey";

/** The Authorization header for the stored key, if any. */
export function authHeaders() {
  const key = localStorage.getItem(STORAGE);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** A form that stores a key (read-only keys are enough for the UI) and reloads the view. */
export function keyForm() {
  const input = h("input", { type: "password", name: "apiKey", placeholder: "API key", "aria-label": "API key", autocomplete: "off" });
  return h(
    "form.key-form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        if (input.value.trim()) localStorage.setItem(STORAGE, input.value.trim());
        else localStorage.removeItem(STORAGE);
        location.reload();
      },
    },
    h("p", null, "This server needs an API key (a read-only key is enough). It is kept in this browser only."),
    input,
    " ",
    h("button", { type: "submit" }, "Use key"),
  );
}
