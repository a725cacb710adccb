// Interpolation resolver for the config tree.
#include "torchtune_cpp/config/interpolate.h"

#include <cstdlib>
#include <set>

#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::config {

namespace {

// Each ${...} copies the value it refers to, so a few lines of interpolations of
// interpolations could otherwise ask for billions of values (as nested YAML aliases could);
// the copies are bounded as the YAML reader bounds copies through aliases.
constexpr size_t kMaxCopiedValues = 100'000;

struct Resolver {
  const Node& root;
  std::set<std::string> active;  // paths being resolved, to catch cycles
  size_t nesting = 0;            // interpolations being evaluated, one inside another
  size_t copied = 0;             // values copied for interpolations so far

  Node resolve_node(const Node& node, const std::string& path) {
    TT_CHECK(nesting == 0 || ++copied <= kMaxCopiedValues, node.loc.str(),
             "resolving the interpolations (key '", path, "') copies more than ", kMaxCopiedValues,
             " values; interpolations of interpolations multiply: refer to fewer levels");
    // Containers are rebuilt child by child (not copied, then overwritten), so resolving costs
    // the size of the tree, not its size times its depth.
    if (node.is_map()) {
      Node out = Node::map(node.loc);
      out.entries.reserve(node.entries.size());
      for (const auto& [k, v] : node.entries)
        out.entries.emplace_back(k, resolve_node(v, join(path, k)));
      return out;
    }
    if (node.is_list()) {
      Node out = Node::list(node.loc);
      out.items.reserve(node.items.size());
      for (size_t i = 0; i < node.items.size(); ++i)
        out.items.push_back(resolve_node(node.items[i], join(path, std::to_string(i))));
      return out;
    }
    if (node.is_scalar() && has_interpolation(node.text)) return resolve_scalar(node, path);
    if (node.is_scalar() && node.text.find("\\${") != std::string::npos) {
      Node out = node;
      out.text = unescape(node.text);
      out.quoted = true;
      return out;
    }
    return node;
  }

  static std::string join(const std::string& a, const std::string& b) {
    return a.empty() ? b : a + "." + b;
  }

  static std::string unescape(const std::string& t) {
    std::string out;
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] == '\\' && i + 2 < t.size() && t[i + 1] == '$' && t[i + 2] == '{') continue;
      out += t[i];
    }
    return out;
  }

  // Finds the matching '}' for the "${" at `start`, allowing nested ${...}.
  static size_t closing(const std::string& t, size_t start) {
    int depth = 0;
    for (size_t i = start; i < t.size(); ++i) {
      if (t[i] == '$' && i + 1 < t.size() && t[i + 1] == '{') {
        ++depth;
        ++i;
      } else if (t[i] == '}') {
        if (--depth == 0) return i;
      }
    }
    return std::string::npos;
  }

  Node resolve_scalar(const Node& node, const std::string& path) {
    const std::string& t = node.text;
    size_t start = t.find("${");
    size_t end = closing(t, start);
    TT_CHECK(end != std::string::npos, node.loc.str(), "unterminated interpolation in '", t,
             "' (key '", path, "'); close it with '}'");
    if (start == 0 && end == t.size() - 1) {
      // A whole-value interpolation keeps the referenced value's type and structure.
      Node out = evaluate(t.substr(2, end - 2), node, path);
      out.loc = node.loc;
      return out;
    }
    std::string text;
    size_t i = 0;
    while (i < t.size()) {
      if (t[i] == '\\' && t.compare(i + 1, 2, "${") == 0) {
        text += "${";
        i += 3;
        continue;
      }
      if (t.compare(i, 2, "${") == 0) {
        size_t e = closing(t, i);
        TT_CHECK(e != std::string::npos, node.loc.str(), "unterminated interpolation in '", t,
                 "' (key '", path, "'); close it with '}'");
        Node v = evaluate(t.substr(i + 2, e - i - 2), node, path);
        TT_CHECK(!v.is_map() && !v.is_list(), node.loc.str(), "'${", t.substr(i + 2, e - i - 2),
                 "}' in key '", path, "' refers to ", describe_type(v),
                 ", which cannot be joined into text; refer to a scalar value");
        text += v.python_str();
        i = e + 1;
        continue;
      }
      text += t[i++];
    }
    return Node::scalar(text, true, node.loc);
  }

  Node evaluate(std::string expr, const Node& at, const std::string& path) {
    // Each level recurses (${${...}} inside one value, or a chain a: ${b}, b: ${c}, ...).
    TT_CHECK(nesting < kMaxNesting, at.loc.str(), "interpolations nest more than ", kMaxNesting,
             " levels (key '", path,
             "'), one inside another or each referring to the next; use fewer");
    struct Level {
      size_t& n;
      explicit Level(size_t& depth) : n(++depth) {}
      ~Level() { --n; }
    } level(nesting);
    // Inner interpolations first (e.g. ${oc.env:${name}}).
    if (has_interpolation(expr))
      expr = resolve_scalar(Node::scalar(expr, false, at.loc), path).text;
    if (expr.rfind("oc.env:", 0) == 0) return env(expr.substr(7), at, path);
    TT_CHECK(expr.find(':') == std::string::npos, at.loc.str(), "unsupported resolver in '${", expr,
             "}' (key '", path,
             "'); only ${oc.env:VAR[,default]} and key references "
             "are supported");
    std::string target = absolute(expr, path, at);
    TT_CHECK(active.count(target) == 0, at.loc.str(), "interpolation cycle through key '", target,
             "' (from key '", path, "'); break the cycle");
    const Node* ref = root.find_path(target);
    TT_CHECK(ref != nullptr, at.loc.str(), "interpolation '${", expr, "}' in key '", path,
             "' refers to key '", target,
             "', which is not in the config; add it or fix the "
             "reference");
    active.insert(target);
    Node out = resolve_node(*ref, target);
    active.erase(target);
    return out;
  }

  static std::string absolute(const std::string& expr, const std::string& path, const Node& at) {
    if (expr.empty() || expr[0] != '.') return expr;
    size_t dots = expr.find_first_not_of('.');
    TT_CHECK(dots != std::string::npos, at.loc.str(), "empty relative interpolation '${", expr,
             "}'; name a key after the dots");
    std::vector<std::string> parts = split_dotted(path);
    parts.pop_back();  // the key itself; one dot means its own mapping
    for (size_t i = 1; i < dots; ++i) {
      TT_CHECK(!parts.empty(), at.loc.str(), "relative interpolation '${", expr,
               "}' goes above the config root; use fewer dots");
      parts.pop_back();
    }
    std::string prefix;
    for (const auto& p : parts) prefix = join(prefix, p);
    return join(prefix, expr.substr(dots));
  }

  static Node env(const std::string& args, const Node& at, const std::string& path) {
    size_t comma = args.find(',');
    std::string name = trim(args.substr(0, comma));
    const char* value = std::getenv(name.c_str());
    if (value != nullptr) return Node::scalar(value, true, at.loc);
    TT_CHECK(comma != std::string::npos, at.loc.str(), "environment variable '", name,
             "' used by key '", path, "' is not set; set it or give a default: ${oc.env:", name,
             ",default}");
    std::string def = trim(args.substr(comma + 1));
    if (def == "null") return Node::null(at.loc);
    if (def.size() >= 2 && (def.front() == '\'' || def.front() == '"') && def.back() == def.front())
      def = def.substr(1, def.size() - 2);
    return Node::scalar(def, true, at.loc);
  }

  static std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t");
    size_t e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
  }
};

void collect(const Node& n, const std::string& path, std::vector<std::string>& out) {
  if (n.is_map()) {
    for (const auto& [k, v] : n.entries) collect(v, path.empty() ? k : path + "." + k, out);
  } else if (n.is_list()) {
    for (size_t i = 0; i < n.items.size(); ++i)
      collect(n.items[i], path + "." + std::to_string(i), out);
  } else if (n.is_scalar()) {
    size_t pos = 0;
    while ((pos = n.text.find("${", pos)) != std::string::npos) {
      size_t end = n.text.find('}', pos);
      if (end == std::string::npos) break;
      std::string expr = n.text.substr(pos + 2, end - pos - 2);
      if (!expr.empty() && expr[0] != '.' && expr.find(':') == std::string::npos)
        out.push_back(expr);
      pos = end;
    }
  }
}

}  // namespace

bool has_interpolation(const std::string& text) {
  for (size_t i = text.find("${"); i != std::string::npos; i = text.find("${", i + 1))
    if (i == 0 || text[i - 1] != '\\') return true;
  return false;
}

Node resolve(const Node& node, const Node& root, const std::string& path) {
  Resolver r{root, {}};
  return r.resolve_node(node, path);
}

void collect_references(const Node& root, std::vector<std::string>& out) {
  collect(root, "", out);
}

}  // namespace tt::config
