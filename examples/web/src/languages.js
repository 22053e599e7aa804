// Monaco language id from the session name's extension ("main.rs" -> "rust").
const BY_EXT = {
  rs: "rust", ts: "typescript", tsx: "typescript", mts: "typescript", cts: "typescript",
  js: "javascript", jsx: "javascript", mjs: "javascript", cjs: "javascript",
  py: "python", go: "go", md: "markdown", markdown: "markdown", json: "json",
  html: "html", htm: "html", css: "css", scss: "scss", less: "less",
  c: "cpp", h: "cpp", cc: "cpp", cpp: "cpp", hpp: "cpp", cs: "csharp", java: "java",
  kt: "kotlin", swift: "swift", rb: "ruby", php: "php", sh: "shell", bash: "shell",
  sql: "sql", yaml: "yaml", yml: "yaml", toml: "ini", ini: "ini", xml: "xml",
  lua: "lua", dart: "dart", scala: "scala", r: "r", dockerfile: "dockerfile",
  graphql: "graphql", proto: "protobuf", sol: "solidity", txt: "plaintext",
};

export const LANGUAGES = [
  "plaintext", "rust", "typescript", "javascript", "python", "go", "markdown", "json",
  "html", "css", "cpp", "csharp", "java", "kotlin", "shell", "sql", "yaml", "xml", "ruby", "php",
];

export function languageFor(session) {
  const lower = session.toLowerCase();
  if (lower === "dockerfile" || lower.endsWith(".dockerfile")) return "dockerfile";
  const dot = lower.lastIndexOf(".");
  if (dot < 0) return "plaintext";
  return BY_EXT[lower.slice(dot + 1)] ?? "plaintext";
}
