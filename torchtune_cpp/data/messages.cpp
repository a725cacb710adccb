// Instruct and chat message transforms; see messages.h.
#include "torchtune_cpp/data/messages.h"

#include <nlohmann/json.hpp>

#include "torchtune_cpp/utils/check.h"

namespace tt::data {

namespace {

const std::string& text_column(const JsonRecord& record, const std::string& column,
                               const std::string& hint) {
  const FieldValue* v = record.find(column);
  TT_CHECK(v != nullptr, record.where(), "record has no '", column, "' column; ", hint);
  TT_CHECK(v->kind == FieldValue::Kind::kString, record.where(), "column '", column,
           "' must be text, got ", v->text,
           v->kind == FieldValue::Kind::kNull ? " (an empty or missing value)" : "");
  return v->text;
}

}  // namespace

std::vector<modules::Message> input_output_to_messages(const JsonRecord& record,
                                                       const InputOutputOptions& o) {
  const std::string hint =
      "add it, or name the dataset's columns with column_map: {input: <name>, output: <name>}";
  std::vector<modules::Message> messages;
  if (o.new_system_prompt)
    messages.push_back(modules::Message{"system", *o.new_system_prompt, true, true});
  messages.push_back(
      modules::Message{"user", text_column(record, o.input_column, hint), !o.train_on_input, true});
  messages.push_back(
      modules::Message{"assistant", text_column(record, o.output_column, hint), false, true});
  return messages;
}

std::vector<modules::Message> conversation_to_messages(const JsonRecord& record,
                                                       const ConversationOptions& o) {
  const bool sharegpt = o.style == ConversationStyle::kShareGpt;
  const FieldValue* v = record.find(o.column);
  TT_CHECK(v != nullptr, record.where(), "record has no '", o.column,
           "' column; set conversation_column to the column that holds the conversation");
  TT_CHECK(v->kind == FieldValue::Kind::kOther, record.where(), "column '", o.column,
           "' must be a list of messages, got ", v->text);
  const nlohmann::json turns = nlohmann::json::parse(v->text);
  TT_CHECK(turns.is_array(), record.where(), "column '", o.column,
           "' must be a list of messages, got ", v->text);
  std::vector<modules::Message> messages;
  if (o.new_system_prompt)
    messages.push_back(modules::Message{"system", *o.new_system_prompt, true, true});
  for (size_t i = 0; i < turns.size(); ++i) {
    const nlohmann::json& t = turns[i];
    const std::string at = str(record.where(), ": ", o.column, "[", i, "]");
    TT_CHECK(t.is_object(), at, "each message must be an object, got ", t.dump());
    std::string role, content;
    if (sharegpt) {
      TT_CHECK(t.contains("from") && t["from"].is_string() && t.contains("value") &&
                   t["value"].is_string(),
               at, "a ShareGPT message needs \"from\" and \"value\" strings, got ", t.dump());
      const std::string from = t["from"];
      TT_CHECK(from == "system" || from == "human" || from == "gpt", at, "unknown \"from\": '",
               from,
               "'; ShareGPT roles are system, human and gpt (or use conversation_style: openai)");
      role = from == "human" ? "user" : from == "gpt" ? "assistant" : "system";
      content = t["value"];
    } else {
      TT_CHECK(t.contains("role") && t["role"].is_string() && t.contains("content"), at,
               "an OpenAI message needs \"role\" and \"content\", got ", t.dump());
      role = t["role"];
      TT_CHECK(role == "system" || role == "user" || role == "assistant" || role == "ipython", at,
               "unknown role '", role, "'; use system, user, assistant or ipython");
      const nlohmann::json& c = t["content"];
      if (c.is_string()) {
        content = c;
      } else {
        // A list of parts: one text part is the same as a string. torchtune tokenizes several
        // parts separately, which this Message cannot express: refused rather than joined.
        TT_CHECK(c.is_array() && c.size() == 1, at,
                 "\"content\" must be a string or a list of one {\"type\": \"text\", \"text\": "
                 "...} part; "
                 "join multi-part text into one string");
        const nlohmann::json& part = c[0];
        TT_CHECK(part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
                     part["text"].is_string(),
                 at, "only text content parts are supported, got ", part.dump());
        content = part["text"].get<std::string>();
      }
    }
    if (role == "system" && o.new_system_prompt) continue;  // replaced
    const bool masked = role != "assistant" && !o.train_on_input;
    messages.push_back(modules::Message{role, content, masked, true});
  }
  return messages;
}

void validate_messages(const std::vector<modules::Message>& messages, const std::string& where) {
  TT_CHECK(messages.size() >= 2, where, "Messages must be at least length 2, but got ",
           messages.size(),
           " messages; a conversation needs a user message and an assistant reply");
  std::string last_turn = "assistant";
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& role = messages[i].role;
    TT_CHECK(!(role == "assistant" && last_turn != "user"), where,
             "Assistant message before expected user message at index ", i, " in messages");
    TT_CHECK(!(role == "user" && last_turn == "user"), where,
             "Two consecutive user messages at index ", i, " and ", i - 1, " in messages");
    TT_CHECK(!(role == "system" && i > 0), where, "System message at index ", i,
             " in messages, but system messages must come first");
    last_turn = role;
  }
}

}  // namespace tt::data
