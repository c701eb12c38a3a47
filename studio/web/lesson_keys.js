// The Lessons page's projector view: the left and right arrow keys press its Previous and Next buttons.
// data: {previous, next}: the buttons' Streamlit keys (their containers carry the class st-key-<key>).
// Keys typed into a field, a slider or a menu are left alone (arrows move a slider).
export default function (component) {
  const {data} = component;
  const onKey = (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const key = event.key === "ArrowRight" ? data.next : event.key === "ArrowLeft" ? data.previous : null;
    if (!key) return;
    const target = event.target;
    if (target && target.closest && target.closest(
        "input, textarea, select, [contenteditable=true], [role=slider], [role=listbox], [role=combobox], [role=option]")) {
      return;
    }
    const button = document.querySelector(`.st-key-${key} button`);
    if (button && !button.disabled) {
      event.preventDefault();
      button.click();
    }
  };
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
