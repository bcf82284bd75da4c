// Swagger UI for /docs from the vendored bundle (no inline script: the CSP refuses those).
window.addEventListener("load", function () {
  window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });
});
