// torchtune-compatible key=value / ~key overrides.
#include "torchtune_cpp/config/overrides.h"

#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::config {

namespace {

std::string where_of(const std::string& arg) {
  return str("command-line override '", arg, "'");
}

// Deletes `dotted` from root; parents that become empty are removed too, as torchtune does.
void remove_key(Node& root, const std::string& dotted, const std::string& arg) {
  std::vector<std::string> parts = split_dotted(dotted);
  std::vector<Node*> chain{&root};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    Node* next = chain.back()->is_map() ? chain.back()->find(parts[i]) : nullptr;
    TT_CHECK(next != nullptr, where_of(arg), "Could not find key ", dotted,
             " in yaml config to remove");
    chain.push_back(next);
  }
  Node* parent = chain.back();
  const Node* target = parent->is_map() ? parent->find(parts.back()) : nullptr;
  TT_CHECK(target != nullptr, where_of(arg), "Could not find key ", dotted,
           " in yaml config to remove");
  TT_CHECK(parts.back() != "_component_" && !target->is_component(), where_of(arg),
           "Removing components from CLI is not supported: ~", dotted, "; override it with ",
           dotted, "=<another component> instead");
  parent->erase(parts.back());
  for (size_t i = chain.size() - 1; i > 0; --i) {
    if (!chain[i]->entries.empty()) break;
    chain[i - 1]->erase(parts[i - 1]);
  }
}

Node parse_value(const std::string& key, const std::string& value, const std::string& arg) {
  SourceLoc loc{where_of(arg), 0, 0};
  if (value == "None") return Node::null(loc);
  if (key.find("max_filename") != std::string::npos) return Node::scalar(value, true, loc);
  Node v = parse_yaml(value, where_of(arg));
  // Locations inside a one-line value are not useful; point at the override itself.
  std::vector<Node*> stack{&v};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    n->loc = loc;
    for (auto& item : n->items) stack.push_back(&item);
    for (auto& e : n->entries) stack.push_back(&e.second);
  }
  return v;
}

}  // namespace

namespace {
void merge_at(Node& base, const Node& update, const std::string& path) {
  if (base.is_map() && update.is_map()) {
    for (const auto& [k, v] : update.entries) {
      Node* existing = base.find(k);
      if (existing != nullptr)
        merge_at(*existing, v, path.empty() ? k : path + "." + k);
      else
        base.set(k, v);
    }
    return;
  }
  // As OmegaConf: list elements cannot be set one by one (key.0=x); the list is replaced.
  TT_CHECK(!(base.is_list() && update.is_map()), update.loc.str(), "cannot set single elements of ",
           "the list '", path, "'; give the whole list instead: ", path, "=[a,b,...]");
  base = update;
}
}  // namespace

void merge_into(Node& base, const Node& update) {
  merge_at(base, update, "");
}

void apply_overrides(Node& root, const std::vector<std::string>& overrides) {
  if (!root.is_map()) root = Node::map(root.loc);
  Node cli = Node::map();
  std::vector<std::pair<std::string, std::string>> deletions;
  for (const std::string& arg : overrides) {
    if (!arg.empty() && arg[0] == '~') {
      // torchtune ignores anything after '=' in a deletion ("~seed=1" deletes seed).
      deletions.emplace_back(arg.substr(1, arg.find('=') - 1), arg);
      continue;
    }
    size_t eq = arg.find('=');
    TT_CHECK(eq != std::string::npos && arg.find('=', eq + 1) == std::string::npos, where_of(arg),
             "Command-line overrides must be in the form of key=value, got ", arg);
    std::string key = arg.substr(0, eq);
    std::string value = arg.substr(eq + 1);
    TT_CHECK(!key.empty() && key.front() != '.' && key.back() != '.' &&
                 key.find("..") == std::string::npos,
             where_of(arg), "the key '", key, "' is not a dotted name such as optimizer.lr");
    const Node* top = root.find(key);
    if (top != nullptr && top->is_component()) key += "._component_";
    Node* slot = &cli;
    std::vector<std::string> parts = split_dotted(key);
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      Node* next = slot->find(parts[i]);
      if (next == nullptr || !next->is_map()) next = &slot->set(parts[i], Node::map());
      slot = next;
    }
    slot->set(parts.back(), parse_value(key, value, arg));
  }
  for (const auto& [dotted, arg] : deletions) remove_key(root, dotted, arg);
  merge_into(root, cli);
}

}  // namespace tt::config
