// Keyboard use without a mouse: "/" focuses the patient search; auto-submitting selects.
document.addEventListener("keydown", (event) => {
  const tag = (event.target.tagName || "").toLowerCase();
  if (event.key === "/" && !["input", "textarea", "select"].includes(tag)) {
    const search = document.querySelector("[data-search]");
    if (search) {
      event.preventDefault();
      search.focus();
    }
  }
});
document.addEventListener("change", (event) => {
  if (event.target.matches("[data-autosubmit]")) {
    event.target.form.submit();
  }
});
// Add Bootstrap's invalid style to inputs that have an error message under them.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".invalid-feedback").forEach((el) => {
    const input = el.parentElement.querySelector("input, select, textarea");
    if (input) {
      input.classList.add("is-invalid");
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", el.id);
    }
  });
});
// The record form's batch picker: a batch in the unit's stock fills in its number and expiry date.
document.addEventListener("click", (event) => {
  const choice = event.target.closest("[data-batch-number]");
  if (!choice || !choice.form) {
    return;
  }
  const number = choice.form.querySelector("[name=batch_number]");
  const expiry = choice.form.querySelector("[name=batch_expiry]");
  if (number) {
    number.value = choice.dataset.batchNumber;
  }
  if (expiry) {
    expiry.value = choice.dataset.batchExpiry;
  }
  choice.parentElement.querySelectorAll("[data-batch-number]").forEach((other) => {
    other.classList.toggle("active", other === choice);
  });
});
