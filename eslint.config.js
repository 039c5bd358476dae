// One lint setup for every workspace; formatting is Prettier's job (.prettierrc.json).
import { readFileSync } from "node:fs";
import { dirname, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import tseslint from "typescript-eslint";

const ROOT = dirname(fileURLToPath(import.meta.url));
const WORKSPACES = new Set(JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")).workspaces);

/** The top-level folder of a path inside the repository ("hub", "scripts", ...), or "" for a file at the root. */
function topFolder(path) {
  const parts = relative(ROOT, path).split(sep);
  return parts.length > 1 ? parts[0] : "";
}

/**
 * Packages import each other only through their entry points (`@supervision/<pkg>` and the subpaths its
 * package.json `exports` declares), so a package's insides can move without breaking another package.
 */
const noCrossPackageRelativeImport = {
  meta: {
    type: "problem",
    docs: { description: "forbid relative imports that leave one workspace folder for another" },
    schema: [],
  },
  create(context) {
    const from = topFolder(context.physicalFilename);
    function check(source) {
      if (source?.type !== "Literal" || typeof source.value !== "string" || !source.value.startsWith(".")) return;
      const to = topFolder(resolve(dirname(context.physicalFilename), source.value));
      if (to === from || !(WORKSPACES.has(to) || WORKSPACES.has(from))) return;
      const where = from || "the repository root";
      context.report({
        node: source,
        message: WORKSPACES.has(to)
          ? `"${source.value}" reaches from ${where}/ into the ${to} package: import it as @supervision/${to}[/subpath] through the "exports" of ${to}/package.json (add the subpath there if it is missing).`
          : `"${source.value}" reaches from the ${from} package into ${to || "the repository root"}/: a package depends only on its own files and other packages' entry points; move what it needs into the package.`,
      });
    }
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    };
  },
};

export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/var/**", "**/dist/**", "dashboards/generated/**", "**/vectors/*.json"] },
  ...tseslint.configs.recommended,
  {
    plugins: { supervision: { rules: { "no-cross-package-relative-import": noCrossPackageRelativeImport } } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "supervision/no-cross-package-relative-import": "error",
    },
  },
);
