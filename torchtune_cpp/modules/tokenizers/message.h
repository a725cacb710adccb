// A chat message as torchtune's Message holds it (text content only), and the form a prompt
// template turns it into. Lives with the tokenizers so models/ can tokenize messages
// without depending on data/.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace tt::modules {

// torchtune's Message(role, content, masked=False, eot=True) with a text content.
struct Message {
  std::string role;  // "system", "user", "assistant" or "ipython"
  std::string content;
  bool masked = false;  // leave its tokens out of the loss
  bool eot = true;      // ends the turn (torchtune's Llama2 tokenizer does not read it)
};

// A message whose content is a list of text items, as torchtune stores every message. A
// prompt template adds its tags as items of their own ("[INST] ", the text, " [/INST] "),
// and tokenization encodes each item separately (each with trailing spaces stripped), so
// the split into items changes the tokens.
struct TemplatedMessage {
  std::string role;
  std::vector<std::string> content;
  bool masked = false;
  bool eot = true;
};

// The message as a single item: what tokenization sees when there is no prompt template.
inline TemplatedMessage as_templated(const Message& message) {
  return TemplatedMessage{message.role, {message.content}, message.masked, message.eot};
}

// torchtune's PromptTemplateInterface: formats a whole conversation at once (Llama2's
// template folds the system message into the user messages).
using PromptTemplate = std::function<std::vector<TemplatedMessage>(const std::vector<Message>&)>;

}  // namespace tt::modules
