// Copies the browser builds of the npm libraries, the Inter font and app.js into tradingweb/static/build/,
// and packs the Heroicons outline set into one SVG sprite (icons.svg) that templates reference by id.
"use strict";

const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const modules = path.join(root, "node_modules");
const build = path.join(root, "tradingweb", "static", "build");

const FILES = [
  ["htmx.org/dist/htmx.min.js", "htmx.min.js"],
  ["alpinejs/dist/cdn.min.js", "alpine.min.js"],
  ["sortablejs/Sortable.min.js", "sortable.min.js"],
  ["chart.js/dist/chart.umd.min.js", "chart.umd.min.js"],
  ["lightweight-charts/dist/lightweight-charts.standalone.production.js", "lightweight-charts.standalone.production.js"],
  ["@fontsource-variable/inter/files/inter-latin-wght-normal.woff2", "fonts/inter-latin-wght-normal.woff2"],
  ["@fontsource-variable/inter/files/inter-latin-ext-wght-normal.woff2", "fonts/inter-latin-ext-wght-normal.woff2"],
  // The API docs pages (drf-spectacular's Swagger UI and Redoc; settings.SPECTACULAR_SETTINGS points here).
  ["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui/swagger-ui-bundle.js"],
  ["swagger-ui-dist/swagger-ui-standalone-preset.js", "swagger-ui/swagger-ui-standalone-preset.js"],
  ["swagger-ui-dist/swagger-ui.css", "swagger-ui/swagger-ui.css"],
  ["swagger-ui-dist/favicon-32x32.png", "swagger-ui/favicon-32x32.png"],
  ["redoc/bundles/redoc.standalone.js", "redoc/bundles/redoc.standalone.js"],
];

function copy(source, target) {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(source, target);
  console.log(`  ${path.relative(root, target)}`);
}

function buildIconSprite(directory, target) {
  const symbols = fs
    .readdirSync(directory)
    .filter((name) => name.endsWith(".svg"))
    .sort()
    .map((name) => {
      const svg = fs.readFileSync(path.join(directory, name), "utf8");
      const inner = svg.replace(/^[\s\S]*?<svg[^>]*>/, "").replace(/<\/svg>\s*$/, "").trim();
      const id = name.replace(/\.svg$/, "");
      return `<symbol id="${id}" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.5">${inner}</symbol>`;
    });
  fs.writeFileSync(target, `<svg xmlns="http://www.w3.org/2000/svg">${symbols.join("")}</svg>\n`);
  console.log(`  ${path.relative(root, target)} (${symbols.length} icons)`);
}

console.log("vendor files:");
for (const [source, target] of FILES) {
  copy(path.join(modules, source), path.join(build, target));
}
copy(path.join(root, "frontend", "app.js"), path.join(build, "app.js"));
// Page scripts of the workflow builder and the strategy form.
for (const script of ["builder.js", "strategy-form.js"]) {
  copy(path.join(root, "frontend", script), path.join(build, script));
}
// Page scripts under frontend/pages/ (orders, portfolio, analytics, charts, …) go to build/pages/.
for (const script of fs.readdirSync(path.join(root, "frontend", "pages")).filter((name) => name.endsWith(".js"))) {
  copy(path.join(root, "frontend", "pages", script), path.join(build, "pages", script));
}
buildIconSprite(path.join(modules, "heroicons", "24", "outline"), path.join(build, "icons.svg"));
