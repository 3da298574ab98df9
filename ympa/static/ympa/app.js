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
