// A file larger than the server accepts is refused in the page, before it is sent: the
// browser shows the field's message (data-too-large) and keeps the form as typed. The server
// still refuses it (413) when sent by other means. Inputs opt in with data-max-bytes.
(function () {
  "use strict";
  var inputs = document.querySelectorAll('input[type="file"][data-max-bytes]');
  Array.prototype.forEach.call(inputs, function (input) {
    input.addEventListener("change", function () {
      var max = Number(input.getAttribute("data-max-bytes"));
      var file = input.files && input.files[0];
      var tooLarge = Boolean(file) && file.size > max;
      input.setCustomValidity(tooLarge ? input.getAttribute("data-too-large") : "");
      input.setAttribute("aria-invalid", tooLarge ? "true" : "false");
      if (tooLarge) {
        input.reportValidity();
      }
    });
  });
})();
