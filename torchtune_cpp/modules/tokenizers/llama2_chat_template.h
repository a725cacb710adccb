// torchtune's Llama2ChatTemplate (models/llama2/_prompt_template.py): wraps user messages
// in "[INST] " ... " [/INST] " and folds the system message into them as
// "<<SYS>>\n" ... "\n<</SYS>>\n\n", the format Llama2 chat models were trained on.
#pragma once

#include <vector>

#include "torchtune_cpp/modules/tokenizers/message.h"

namespace tt::modules {

// As torchtune v0.6.1, including its quirks:
//  * the system message is dropped as a message and its text is put inside EVERY later
//    user message (torchtune never clears it), not only the first;
//  * a system message with no user message after it disappears;
//  * assistant messages pass through unchanged.
// torchtune formats an "ipython" message with the previous message's text (a bug); here any
// role other than system, user and assistant is a tt::Error instead.
std::vector<TemplatedMessage> llama2_chat_template(const std::vector<Message>& messages);

}  // namespace tt::modules
