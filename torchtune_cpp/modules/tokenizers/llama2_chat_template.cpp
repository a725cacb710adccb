// Llama2ChatTemplate, item for item as torchtune v0.6.1 builds the formatted messages.
#include "torchtune_cpp/modules/tokenizers/llama2_chat_template.h"

#include "torchtune_cpp/utils/check.h"

namespace tt::modules {

namespace {

const char kSystemPrefix[] = "<<SYS>>\n";
const char kSystemSuffix[] = "\n<</SYS>>\n\n";
const char kUserPrefix[] = "[INST] ";
const char kUserSuffix[] = " [/INST] ";

}  // namespace

std::vector<TemplatedMessage> llama2_chat_template(const std::vector<Message>& messages) {
  std::vector<std::string> system;  // the latest system message with its tags, or empty
  std::vector<TemplatedMessage> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    if (m.role == "system") {
      system = {kSystemPrefix, m.content, kSystemSuffix};
      continue;
    }
    TemplatedMessage formatted{m.role, {}, m.masked, m.eot};
    if (m.role == "user") {
      formatted.content.push_back(kUserPrefix);
      formatted.content.insert(formatted.content.end(), system.begin(), system.end());
      formatted.content.push_back(m.content);
      formatted.content.push_back(kUserSuffix);
    } else {
      TT_CHECK(m.role == "assistant", str("message ", i),
               "Llama2ChatTemplate formats only system, user and assistant messages, got role '",
               m.role, "'; change the role, or set tokenizer.prompt_template: null");
      formatted.content.push_back(m.content);
    }
    out.push_back(std::move(formatted));
  }
  return out;
}

}  // namespace tt::modules
