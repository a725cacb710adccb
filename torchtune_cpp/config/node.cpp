// Scalar typing and tree navigation for the config tree.
#include "torchtune_cpp/config/node.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <regex>

#include "torchtune_cpp/utils/check.h"

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

// YAML 1.1 core resolvers as PyYAML's SafeLoader applies them, with OmegaConf's wider
// float rule (it accepts "1e-5" without a dot).
const std::regex& bool_re() {
  static const std::regex re(
      "yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF");
  return re;
}
const std::regex& int_re() {
  static const std::regex re(
      "[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
      "|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+");  // sexagesimal: 1:30 is 90
  return re;
}
const std::regex& float_re() {
  static const std::regex re(
      "[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
      "|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
      "|\\.[0-9_]+(?:[eE][-+][0-9]+)?"
      "|[-+]?\\.(?:inf|Inf|INF)"
      "|\\.(?:nan|NaN|NAN)");
  return re;
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
  if (std::regex_match(t, bool_re())) return ScalarType::kBool;
  if (std::regex_match(t, int_re())) return ScalarType::kInt;
  if (std::regex_match(t, float_re())) return ScalarType::kFloat;
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
  int base = 10;
  if (t.find(':') != std::string::npos) {
    int64_t value = 0;
    for (const std::string& part : split_dotted_on(t, ':')) value = value * 60 + std::stoll(part);
    return negative ? -value : value;
  }
  if (t.rfind("0b", 0) == 0) {
    base = 2;
    t = t.substr(2);
  } else if (t.rfind("0x", 0) == 0) {
    base = 16;
    t = t.substr(2);
  } else if (t.size() > 1 && t[0] == '0') {
    base = 8;  // YAML 1.1: a leading zero means octal ("010" is 8), as PyYAML reads it
  }
  errno = 0;
  unsigned long long v = std::strtoull(t.c_str(), nullptr, base);
  if (errno == ERANGE || v > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()))
    return std::nullopt;
  return negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
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

namespace {

// Python's repr(float): the shortest digits that read back as the same double, laid out in
// fixed notation for exponents -4..15 and scientific ("1e-05") otherwise.
std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  int precision = 1;
  for (; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*e", precision - 1, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;  // "-d.ddde+XX"
  bool negative = s[0] == '-';
  if (negative) s = s.substr(1);
  size_t e = s.find('e');
  int exponent = std::stoi(s.substr(e + 1));
  std::string digits = s.substr(0, 1) + (e > 2 ? s.substr(2, e - 2) : "");
  std::string out;
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out = "0." + std::string(-exponent - 1, '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exponent + 1) {
      out = digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
    }
  } else {
    out = digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "");
    char ex[16];
    std::snprintf(ex, sizeof ex, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += ex;
  }
  return (negative ? "-" : "") + out;
}

}  // namespace

std::string Node::python_str() const {
  switch (scalar_type()) {
    case ScalarType::kNull:
      return "None";
    case ScalarType::kBool:
      return *as_bool() ? "True" : "False";
    case ScalarType::kInt:
      return as_int() ? std::to_string(*as_int()) : text;
    case ScalarType::kFloat:
      return python_float_repr(*as_double());
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
  return parts;
}

const Node* Node::find_path(const std::string& dotted) const {
  const Node* cur = this;
  for (const std::string& part : split_dotted(dotted)) {
    if (cur->is_map()) {
      cur = cur->find(part);
    } else if (cur->is_list() && !part.empty() &&
               part.find_first_not_of("0123456789") == std::string::npos) {
      size_t i = std::stoul(part);
      cur = i < cur->items.size() ? &cur->items[i] : nullptr;
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

bool Node::is_component() const { return is_map() && find("_component_") != nullptr; }

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
