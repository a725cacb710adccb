// yaml-cpp parsing into the located config tree, and the block-style emitter.
//
// The tree is built from yaml-cpp's parse events rather than from a YAML::Node, so that limits
// apply while parsing: nesting deeper than kMaxNesting (node.h) stops the parser's own recursion,
// and aliases are expanded by copy against a budget, so a few hundred bytes of nested aliases
// ("billion laughs") or an alias inside its own anchor is an error, not a hang or a crash.
#include "torchtune_cpp/config/yaml_io.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "torchtune_cpp/utils/check.h"

namespace tt::config {

namespace {

// Configs are a few levels deep and hold hundreds of values; these bound what a file can make
// the parser (and everything that walks the tree after it) do.
constexpr size_t kMaxNodes = 1'000'000;
constexpr size_t kMaxAliasNodes = 100'000;

SourceLoc loc_of(const YAML::Mark& mark, const std::string& origin) {
  if (mark.line < 0) return SourceLoc{origin, 0, 0};
  return SourceLoc{origin, mark.line + 1, mark.column + 1};
}

// Builds the config tree from parse events: scalars and nulls typed as yaml-cpp's YAML::Load
// would type them, mapping keys checked (plain scalars, no duplicates), anchors remembered and
// aliases copied.
class TreeBuilder final : public YAML::EventHandler {
 public:
  explicit TreeBuilder(const std::string& origin)
      : origin_(origin), root_(Node::null(SourceLoc{origin, 0, 0})) {}

  Node take_root() { return std::move(root_); }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnAnchor(const YAML::Mark&, const std::string& name) override { anchor_name_ = name; }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    made(1, loc(mark));
    name(anchor);
    place(Node::null(loc(mark)), anchor, 1);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    made(1, loc(mark));
    name(anchor);
    if (tag == "tag:yaml.org,2002:null") return place(Node::null(loc(mark)), anchor, 1);
    // "!" is yaml-cpp's tag for quoted scalars; "!!str" forces a string.
    const bool quoted = tag == "!" || tag == "tag:yaml.org,2002:str";
    place(Node::scalar(value, quoted, loc(mark)), anchor, 1);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(Node::list(loc(mark)), anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(Node::map(loc(mark)), anchor);
  }
  void OnMapEnd() override { close(); }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    TT_CHECK(it != anchors_.end(), loc(mark).str(), "the alias *", anchor_name(anchor),
             " is used inside the value it names, which would make it infinitely deep; ",
             "refer only to values defined before the alias");
    const size_t size = it->second.size;
    alias_nodes_ += size;
    TT_CHECK(alias_nodes_ <= kMaxAliasNodes, loc(mark).str(), "the YAML expands to more than ",
             kMaxAliasNodes, " values through aliases (nested aliases multiply); a config needs ",
             "far fewer: write the values out, or alias fewer levels");
    made(size, loc(mark));
    place(it->second.node, YAML::NullAnchor, size);
  }

 private:
  struct Frame {
    Node node;
    YAML::anchor_t anchor;
    size_t first;             // built_ before the container itself
    std::optional<Node> key;  // a mapping's key waiting for its value
    std::unordered_set<std::string> keys;
  };
  struct Anchored {
    Node node;
    size_t size;  // values in it
  };

  SourceLoc loc(const YAML::Mark& mark) const { return loc_of(mark, origin_); }

  void name(YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) anchor_names_[anchor] = anchor_name_;
  }
  std::string anchor_name(YAML::anchor_t anchor) const {
    auto it = anchor_names_.find(anchor);
    return it != anchor_names_.end() ? it->second : std::to_string(anchor);
  }

  // Every value made (copies for anchors and aliases included) counts against kMaxNodes.
  void charge(size_t n, const SourceLoc& at) {
    nodes_ += n;
    TT_CHECK(nodes_ <= kMaxNodes, at.str(), "the YAML holds more than ", kMaxNodes,
             " values; a config holds far fewer (is this a data file?)");
  }
  // `n` values join the tree.
  void made(size_t n, const SourceLoc& at) {
    charge(n, at);
    built_ += n;
  }

  void open(Node node, YAML::anchor_t anchor) {
    TT_CHECK(frames_.size() < kMaxNesting, node.loc.str(), "the YAML is nested more than ",
             kMaxNesting, " levels deep; a config needs a few levels: remove the extra nesting");
    made(1, node.loc);
    name(anchor);
    frames_.push_back(Frame{std::move(node), anchor, built_ - 1, std::nullopt, {}});
  }

  void close() {
    Frame f = std::move(frames_.back());
    frames_.pop_back();
    place(std::move(f.node), f.anchor, built_ - f.first);
  }

  // Puts a finished value of `size` values into its parent (or makes it the root), keeping a
  // copy under its anchor for later aliases.
  void place(Node node, YAML::anchor_t anchor, size_t size) {
    if (anchor != YAML::NullAnchor) {
      charge(size, node.loc);
      anchors_[anchor] = Anchored{node, size};
    }
    if (frames_.empty()) {
      root_ = std::move(node);
      return;
    }
    Frame& f = frames_.back();
    if (f.node.is_list()) {
      f.node.items.push_back(std::move(node));
      return;
    }
    if (!f.key) {
      TT_CHECK(node.is_scalar(), node.loc.str(),
               "mapping keys must be plain names; write the key as text");
      f.key = std::move(node);
      return;
    }
    const std::string& key = f.key->text;
    if (!f.keys.insert(key).second) {
      const Node* previous = f.node.find(key);
      TT_CHECK(false, f.key->loc.str(), "duplicate key '", key, "' (first defined at line ",
               previous ? previous->loc.line : 0, "); keep only one of them");
    }
    f.node.entries.emplace_back(key, std::move(node));
    f.key.reset();
  }

  const std::string& origin_;
  Node root_;
  std::vector<Frame> frames_;
  std::unordered_map<YAML::anchor_t, Anchored> anchors_;
  std::unordered_map<YAML::anchor_t, std::string> anchor_names_;
  std::string anchor_name_;  // from OnAnchor, for the value that follows
  size_t nodes_ = 0;         // values made, copies included
  size_t built_ = 0;         // values in the tree so far
  size_t alias_nodes_ = 0;   // values copied through aliases
};

}  // namespace

Node parse_yaml(const std::string& text, const std::string& origin) {
  std::istringstream stream(text);
  TreeBuilder builder(origin);
  try {
    YAML::Parser parser(stream);
    parser.HandleNextDocument(builder);  // the first document, as YAML::Load reads
  } catch (const YAML::Exception& e) {
    throw Error(loc_of(e.mark, origin).str(),
                str("malformed YAML: ", e.msg, "; fix the syntax at this position"));
  }
  return builder.take_root();
}

Node load_yaml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TT_CHECK(in.good(), path,
           "cannot open the config file; check the path (or use a built-in name "
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
