// Scalar typing and tree navigation for the config tree.
#include "torchtune_cpp/config/node.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/strings.h"

namespace tt::config {

std::string SourceLoc::str() const {
  if (line <= 0) return origin;
  return tt::str(origin, ":", line, ":", column);
}

Node Node::null(SourceLoc loc) {
  Node n;
  n.loc = std::move(loc);
  return n;
}
Node Node::scalar(std::string text, bool quoted, SourceLoc loc) {
  Node n;
  n.kind = NodeKind::kScalar;
  n.text = std::move(text);
  n.quoted = quoted;
  n.loc = std::move(loc);
  return n;
}
Node Node::map(SourceLoc loc) {
  Node n;
  n.kind = NodeKind::kMap;
  n.loc = std::move(loc);
  return n;
}
Node Node::list(SourceLoc loc) {
  Node n;
  n.kind = NodeKind::kList;
  n.loc = std::move(loc);
  return n;
}

namespace {

// YAML 1.1 core resolvers as PyYAML's SafeLoader applies them, with OmegaConf's wider float
// rule (it accepts "1e-5" without a dot). Each matcher accepts exactly the text of one regular
// expression, given above it; they are written out by hand because libstdc++'s std::regex
// recurses once per character and overflows the stack on long scalars.
//
// A cursor over the text: each step consumes what it matches and says whether it did.
struct Cursor {
  const std::string& t;
  size_t i = 0;

  bool done() const { return i == t.size(); }
  bool peek(char c) const { return i < t.size() && t[i] == c; }
  bool take(char c) {
    if (!peek(c)) return false;
    ++i;
    return true;
  }
  bool take_any(const char* set) {
    if (i < t.size() && t[i] != '\0' && std::strchr(set, t[i]) != nullptr) {
      ++i;
      return true;
    }
    return false;
  }
  // Zero or more characters of `set`; returns how many.
  size_t take_all(const char* set) {
    size_t n = 0;
    while (take_any(set)) ++n;
    return n;
  }
  bool take_word(const char* w) {
    const size_t n = std::strlen(w);
    if (t.compare(i, n, w) != 0) return false;
    i += n;
    return true;
  }
};

constexpr const char* kDigits = "0123456789";
constexpr const char* kDigitsUnderscore = "0123456789_";

// yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
bool is_bool_text(const std::string& t) {
  static const char* const kWords[] = {"yes",  "Yes",  "YES",  "no",    "No",    "NO",
                                       "true", "True", "TRUE", "false", "False", "FALSE",
                                       "on",   "On",   "ON",   "off",   "Off",   "OFF"};
  for (const char* w : kWords)
    if (t == w) return true;
  return false;
}

// [-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(?:0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
// | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+
bool is_int_text(const std::string& t) {
  Cursor c{t};
  c.take_any("+-");
  const size_t body = c.i;
  if (c.take('0')) {
    if (c.done()) return true;
    if (c.take('b')) return c.take_all("01_") > 0 && c.done();
    if (c.take('x')) return c.take_all("0123456789abcdefABCDEF_") > 0 && c.done();
    return c.take_all("01234567_") > 0 && c.done();
  }
  c.i = body;
  if (!c.take_any("123456789")) return false;
  c.take_all(kDigitsUnderscore);
  if (c.done()) return true;
  // Sexagesimal groups: ":" then one or two digits, the first of two at most 5.
  size_t groups = 0;
  while (c.take(':')) {
    if (c.take_any("012345")) {
      c.take_any(kDigits);
    } else if (!c.take_any(kDigits)) {
      return false;
    }
    ++groups;
  }
  return groups > 0 && c.done();
}

// [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)? | [-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
// | \.[0-9_]+(?:[eE][-+][0-9]+)? | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
bool is_float_text(const std::string& t) {
  Cursor c{t};
  const bool sign = c.take_any("+-");
  if (c.take('.')) {
    const size_t dot = c.i;
    if (c.take_word("inf") || c.take_word("Inf") || c.take_word("INF")) return c.done();
    c.i = dot;
    if (!sign && (c.take_word("nan") || c.take_word("NaN") || c.take_word("NAN"))) return c.done();
    c.i = dot;
    // \.[0-9_]+ with a signed exponent only, and no sign before the dot
    if (sign || c.take_all(kDigitsUnderscore) == 0) return false;
    if (c.done()) return true;
    if (!c.take_any("eE") || !c.take_any("+-")) return false;
    return c.take_all(kDigits) > 0 && c.done();
  }
  if (!c.take_any(kDigits)) return false;
  c.take_all(kDigitsUnderscore);
  const bool dot = c.take('.');
  if (dot) c.take_all(kDigitsUnderscore);
  if (c.done()) return dot;
  if (!c.take_any("eE")) return false;
  c.take_any("+-");
  return c.take_all(kDigits) > 0 && c.done();
}

// Digits of `s` in `base` as a non-negative int64, or nullopt when empty, not digits or too big.
std::optional<int64_t> parse_digits(const std::string& s, int base) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  for (char ch : s) {
    int d = std::isdigit(static_cast<unsigned char>(ch)) ? ch - '0'
            : std::isxdigit(static_cast<unsigned char>(ch))
                ? std::tolower(static_cast<unsigned char>(ch)) - 'a' + 10
                : base;
    if (d >= base) return std::nullopt;
    if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, d, &v))
      return std::nullopt;
  }
  return v;
}

std::vector<std::string> split_dotted_on(const std::string& s, char sep) {
  std::vector<std::string> parts(1);
  for (char c : s) {
    if (c == sep)
      parts.emplace_back();
    else
      parts.back() += c;
  }
  return parts;
}

std::string strip_underscores(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != '_') out += c;
  return out;
}

}  // namespace

ScalarType Node::scalar_type() const {
  if (kind == NodeKind::kNull) return ScalarType::kNull;
  if (kind != NodeKind::kScalar) return ScalarType::kString;  // not meaningful for containers
  if (quoted) return ScalarType::kString;
  const std::string& t = text;
  if (t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL") return ScalarType::kNull;
  if (is_bool_text(t)) return ScalarType::kBool;
  if (is_int_text(t)) return ScalarType::kInt;
  if (is_float_text(t)) return ScalarType::kFloat;
  return ScalarType::kString;
}

std::optional<bool> Node::as_bool() const {
  if (scalar_type() != ScalarType::kBool) return std::nullopt;
  char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  if (c == 'o') return std::tolower(static_cast<unsigned char>(text[1])) == 'n';
  return c == 'y' || c == 't';
}

std::optional<int64_t> Node::as_int() const {
  if (scalar_type() != ScalarType::kInt) return std::nullopt;
  std::string t = strip_underscores(text);
  bool negative = !t.empty() && t[0] == '-';
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) t = t.substr(1);
  std::optional<int64_t> value;
  if (t.find(':') != std::string::npos) {
    value = 0;
    for (const std::string& part : split_dotted_on(t, ':')) {
      std::optional<int64_t> p = parse_digits(part, 10);
      if (!p || __builtin_mul_overflow(*value, 60, &*value) ||
          __builtin_add_overflow(*value, *p, &*value))
        return std::nullopt;
    }
  } else if (t.rfind("0b", 0) == 0) {
    value = parse_digits(t.substr(2), 2);
  } else if (t.rfind("0x", 0) == 0) {
    value = parse_digits(t.substr(2), 16);
  } else if (t.size() > 1 && t[0] == '0') {
    value = parse_digits(
        t, 8);  // YAML 1.1: a leading zero means octal ("010" is 8), as PyYAML reads it
  } else {
    value = parse_digits(t, 10);
  }
  if (!value) return std::nullopt;  // beyond int64 (or "0b_" with no digits)
  return negative ? -*value : *value;
}

std::optional<double> Node::as_double() const {
  ScalarType st = scalar_type();
  if (st == ScalarType::kInt) {
    auto i = as_int();
    if (!i) return std::nullopt;
    return static_cast<double>(*i);
  }
  if (st != ScalarType::kFloat) return std::nullopt;
  std::string t = strip_underscores(text);
  std::string lower;
  for (char c : t) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find(".inf") != std::string::npos)
    return lower[0] == '-' ? -std::numeric_limits<double>::infinity()
                           : std::numeric_limits<double>::infinity();
  if (lower.find(".nan") != std::string::npos) return std::numeric_limits<double>::quiet_NaN();
  return std::strtod(t.c_str(), nullptr);
}

std::string Node::python_str() const {
  switch (scalar_type()) {
    case ScalarType::kNull:
      return "None";
    case ScalarType::kBool:
      return *as_bool() ? "True" : "False";
    case ScalarType::kInt:
      return as_int() ? std::to_string(*as_int()) : text;
    case ScalarType::kFloat:
      return python_float_str(*as_double());
    case ScalarType::kString:
      return text;
  }
  return text;
}

const Node* Node::find(const std::string& key) const {
  if (kind != NodeKind::kMap) return nullptr;
  for (const auto& [k, v] : entries)
    if (k == key) return &v;
  return nullptr;
}
Node* Node::find(const std::string& key) {
  return const_cast<Node*>(static_cast<const Node*>(this)->find(key));
}

Node& Node::set(const std::string& key, Node value) {
  if (kind != NodeKind::kMap) {
    kind = NodeKind::kMap;
    text.clear();
    items.clear();
  }
  for (auto& [k, v] : entries) {
    if (k == key) {
      v = std::move(value);
      return v;
    }
  }
  entries.emplace_back(key, std::move(value));
  return entries.back().second;
}

bool Node::erase(const std::string& key) {
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it->first == key) {
      entries.erase(it);
      return true;
    }
  }
  return false;
}

std::vector<std::string> Node::keys() const {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.first);
  return out;
}

std::vector<std::string> split_dotted(const std::string& dotted) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : dotted) {
    if (c == '.') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  // A key this long would build (or look for) a tree deeper than any config: refused before
  // anything walks it recursively.
  TT_CHECK(parts.size() <= kMaxNesting,
           tt::str("key '", dotted.substr(0, 60), dotted.size() > 60 ? "...'" : "'"), "has ",
           parts.size(), " dotted parts, more than the ", kMaxNesting,
           " levels a config may nest; use a shorter key");
  return parts;
}

const Node* Node::find_path(const std::string& dotted) const {
  const Node* cur = this;
  for (const std::string& part : split_dotted(dotted)) {
    if (cur->is_map()) {
      cur = cur->find(part);
    } else if (cur->is_list() && !part.empty() &&
               part.find_first_not_of("0123456789") == std::string::npos) {
      std::optional<int64_t> i = parse_digits(part, 10);  // nullopt beyond int64: no such item
      cur = i && static_cast<uint64_t>(*i) < cur->items.size()
                ? &cur->items[static_cast<size_t>(*i)]
                : nullptr;
    } else {
      return nullptr;
    }
    if (cur == nullptr) return nullptr;
  }
  return cur;
}
Node* Node::find_path(const std::string& dotted) {
  return const_cast<Node*>(static_cast<const Node*>(this)->find_path(dotted));
}

bool Node::is_component() const {
  return is_map() && find("_component_") != nullptr;
}

std::string describe_type(const Node& node) {
  switch (node.kind) {
    case NodeKind::kNull:
      return "null";
    case NodeKind::kList:
      return "a list";
    case NodeKind::kMap:
      return "a mapping";
    case NodeKind::kScalar:
      break;
  }
  switch (node.scalar_type()) {
    case ScalarType::kNull:
      return "null";
    case ScalarType::kBool:
      return "a boolean";
    case ScalarType::kInt:
      return "an integer";
    case ScalarType::kFloat:
      return "a float";
    case ScalarType::kString:
      return "a string";
  }
  return "a value";
}

bool same_value(const Node& a, const Node& b) {
  if (a.is_null() && b.is_null()) return true;
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case NodeKind::kNull:
      return true;
    case NodeKind::kScalar:
      return a.text == b.text && a.scalar_type() == b.scalar_type();
    case NodeKind::kList:
      if (a.items.size() != b.items.size()) return false;
      for (size_t i = 0; i < a.items.size(); ++i)
        if (!same_value(a.items[i], b.items[i])) return false;
      return true;
    case NodeKind::kMap:
      if (a.entries.size() != b.entries.size()) return false;
      for (size_t i = 0; i < a.entries.size(); ++i)
        if (a.entries[i].first != b.entries[i].first ||
            !same_value(a.entries[i].second, b.entries[i].second))
          return false;
      return true;
  }
  return false;
}

}  // namespace tt::config
