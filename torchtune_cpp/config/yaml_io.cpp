// yaml-cpp parsing into the located config tree, and the block-style emitter.
#include "torchtune_cpp/config/yaml_io.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "torchtune_cpp/utils/check.h"

namespace tt::config {

namespace {

SourceLoc loc_of(const YAML::Mark& mark, const std::string& origin) {
  if (mark.line < 0) return SourceLoc{origin, 0, 0};
  return SourceLoc{origin, mark.line + 1, mark.column + 1};
}

Node convert(const YAML::Node& y, const std::string& origin) {
  SourceLoc loc = loc_of(y.Mark(), origin);
  switch (y.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return Node::null(loc);
    case YAML::NodeType::Scalar: {
      const std::string& tag = y.Tag();
      if (tag == "tag:yaml.org,2002:null") return Node::null(loc);
      // "!" is yaml-cpp's tag for quoted scalars; "!!str" forces a string.
      bool quoted = tag == "!" || tag == "tag:yaml.org,2002:str";
      return Node::scalar(y.Scalar(), quoted, loc);
    }
    case YAML::NodeType::Sequence: {
      Node n = Node::list(loc);
      for (const auto& item : y) n.items.push_back(convert(item, origin));
      return n;
    }
    case YAML::NodeType::Map: {
      Node n = Node::map(loc);
      for (const auto& kv : y) {
        TT_CHECK(kv.first.IsScalar(), loc_of(kv.first.Mark(), origin).str(),
                 "mapping keys must be plain names; write the key as text");
        std::string key = kv.first.Scalar();
        const Node* previous = n.find(key);
        TT_CHECK(previous == nullptr, loc_of(kv.first.Mark(), origin).str(), "duplicate key '",
                 key, "' (first defined at line ", previous ? previous->loc.line : 0,
                 "); keep only one of them");
        n.entries.emplace_back(key, convert(kv.second, origin));
      }
      return n;
    }
  }
  return Node::null(loc);
}

}  // namespace

Node parse_yaml(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(loc_of(e.mark, origin).str(),
                str("malformed YAML: ", e.msg, "; fix the syntax at this position"));
  }
  return convert(root, origin);
}

Node load_yaml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TT_CHECK(in.good(), path, "cannot open the config file; check the path (or use a built-in name "
                            "listed by `tune ls`)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_yaml(buffer.str(), path);
}

namespace {

bool needs_quotes(const Node& n) {
  const std::string& t = n.text;
  if (t.empty()) return true;
  if (n.quoted && n.scalar_type() == ScalarType::kString) {
    // Quoted text that would read back as another type keeps its quotes.
    Node plain = Node::scalar(t);
    if (plain.scalar_type() != ScalarType::kString) return true;
  }
  if (std::string("!&*-?[]{},|>@`%'\"#").find(t[0]) != std::string::npos) {
    // A leading '-' is fine for numbers ("-1") but not for text ("- x", "-foo" is ok in
    // YAML, yet keep it quoted when followed by a space).
    if (!(t[0] == '-' && t.size() > 1 && t[1] != ' ')) return true;
  }
  if (t.front() == ' ' || t.back() == ' ') return true;
  if (t.find(": ") != std::string::npos || t.find(" #") != std::string::npos) return true;
  if (t.back() == ':') return true;
  if (t.find('\n') != std::string::npos || t.find('\t') != std::string::npos) return true;
  return false;
}

std::string double_quoted(const std::string& t) {
  std::string out = "\"";
  for (char c : t) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

void emit(const Node& n, const EmitOptions& o, int indent, std::ostringstream& out);

bool is_block(const Node& n) {
  return (n.is_map() && !n.entries.empty()) || (n.is_list() && !n.items.empty());
}

std::string inline_value(const Node& n) {
  if (n.is_map()) return "{}";
  if (n.is_list()) return "[]";
  return emit_scalar(n);
}

void emit_map(const Node& n, const EmitOptions& o, int indent, std::ostringstream& out,
              bool first_inline) {
  std::vector<const std::pair<std::string, Node>*> entries;
  for (const auto& e : n.entries) entries.push_back(&e);
  if (o.sort_keys)
    std::stable_sort(entries.begin(), entries.end(),
                     [](auto* a, auto* b) { return a->first < b->first; });
  bool first = true;
  for (const auto* e : entries) {
    if (!(first && first_inline)) out << std::string(indent, ' ');
    first = false;
    out << emit_scalar(Node::scalar(e->first)) << ":";
    const Node& v = e->second;
    if (!is_block(v)) {
      out << " " << inline_value(v) << "\n";
    } else if (v.is_map()) {
      out << "\n";
      emit(v, o, indent + o.indent, out);
    } else {
      out << "\n";
      emit(v, o, indent, out);  // PyYAML puts list items at the key's column
    }
  }
}

void emit(const Node& n, const EmitOptions& o, int indent, std::ostringstream& out) {
  if (n.is_map()) {
    emit_map(n, o, indent, out, false);
  } else if (n.is_list()) {
    for (const Node& item : n.items) {
      out << std::string(indent, ' ') << "-";
      if (!is_block(item)) {
        out << " " << inline_value(item) << "\n";
      } else if (item.is_map()) {
        // "-   key: v" with the mapping's later keys aligned under the first.
        int pad = std::max(1, o.indent - 1);
        out << std::string(pad, ' ');
        emit_map(item, o, indent + 1 + pad, out, true);
      } else {
        out << "\n";
        emit(item, o, indent + o.indent, out);
      }
    }
  } else {
    out << std::string(indent, ' ') << inline_value(n) << "\n";
  }
}

}  // namespace

std::string emit_scalar(const Node& node) {
  if (node.is_map() || node.is_list()) return node.is_map() ? "{}" : "[]";
  if (node.is_null()) return "null";
  if (auto b = node.as_bool()) return *b ? "true" : "false";
  if (!needs_quotes(node)) return node.text;
  if (node.text.find('\n') != std::string::npos || node.text.find('\t') != std::string::npos)
    return double_quoted(node.text);
  std::string out = "'";
  for (char c : node.text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string emit_yaml(const Node& node, const EmitOptions& options) {
  std::ostringstream out;
  if (!is_block(node)) return inline_value(node) + "\n";
  emit(node, options, 0, out);
  return out.str();
}

}  // namespace tt::config
