// The mass-vaccination desk without the mouse: N calls the next patient, Enter registers and signs the
// dose of the patient at the desk (and calls the next), W focuses the walk-in field.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) {
    return;
  }
  const target = event.target;
  const tag = (target.tagName || "").toLowerCase();
  const checkbox = tag === "input" && target.type === "checkbox";
  // In a field the keys are text; Enter there submits the field's own form.
  if (["input", "textarea", "select"].includes(tag) && !checkbox) {
    return;
  }
  const key = event.key.toLowerCase();
  if (key === "n") {
    const next = document.querySelector("[data-mass-next]:not([disabled])");
    if (next) {
      event.preventDefault();
      next.click();
    }
  } else if (key === "w") {
    const field = document.querySelector("[data-mass-walk-in]");
    if (field) {
      event.preventDefault();
      field.focus();
      field.select();
    }
  } else if (event.key === "Enter" && !["button", "a", "summary"].includes(tag)) {
    const sign = document.querySelector("[data-mass-sign]:not([disabled])");
    if (sign) {
      event.preventDefault();
      sign.click();
    }
  }
});
