/** Tailwind scans every Django template and the few places that spell class names in code. */
const defaultTheme = require("tailwindcss/defaultTheme");
const colors = require("tailwindcss/colors");

module.exports = {
  content: [
    "./templates/**/*.html",
    "./*/templates/**/*.html",
    "./*/templatetags/*.py",
    "./frontend/**/*.js",
    "./*/static/**/*.js",
    "!./tradingweb/static/build/**",
  ],
  theme: {
    extend: {
      fontFamily: {
        sans: ["Inter Variable", ...defaultTheme.fontFamily.sans],
        mono: ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
      },
      colors: {
        brand: colors.indigo,
        gain: colors.emerald,
        loss: colors.rose,
        ink: {
          950: "#070b14",
          900: "#0c1220",
          850: "#101829",
          800: "#162033",
          700: "#1f2b42",
        },
      },
      boxShadow: {
        card: "0 1px 0 0 rgb(255 255 255 / 0.03) inset, 0 8px 24px -12px rgb(0 0 0 / 0.6)",
      },
      keyframes: {
        "progress-slide": {
          "0%": { transform: "translateX(-100%)" },
          "100%": { transform: "translateX(250%)" },
        },
        "toast-in": {
          "0%": { opacity: "0", transform: "translateY(8px) scale(0.98)" },
          "100%": { opacity: "1", transform: "translateY(0) scale(1)" },
        },
      },
      animation: {
        "progress-slide": "progress-slide 1.1s ease-in-out infinite",
        "toast-in": "toast-in 160ms ease-out",
      },
    },
  },
  plugins: [require("@tailwindcss/forms")],
};
