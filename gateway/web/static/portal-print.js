// The print button of the confirmation page: shown only when scripts run (Ctrl+P works without).
document.querySelectorAll(".js-print").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
