// The dataset builders under torchtune's names, each building a DatasetPtr from the recipe's
// tokenizer (positional) and the config's keywords:
//   torchtune.datasets.alpaca_dataset, alpaca_cleaned_dataset   (alpaca.h)
//   torchtune.datasets.instruct_dataset                         InputOutputToMessages
//   torchtune.datasets.chat_dataset                             ShareGPT / OpenAI conversations
//   torchtune.datasets.text_completion_dataset                  TextCompletionDataset
// Common keywords as torchtune's: source (json, csv, text or a cached hub name), data_files,
// split, packed (PackedDataset to tokenizer.max_seq_len), filter_fn (refused: filter the file).
// Records are loaded and every one is checked when the dataset is built, so bad data stops a
// run before anything is written; tokenization is lazy, per sample.
#pragma once

#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/data/sft.h"

namespace tt::data {

// Registers every builder above.
void register_datasets();

// The config's `dataset:`: one dataset or, as in torchtune, a list of them read one after
// another (ConcatDataset).
DatasetPtr instantiate_dataset(const config::Config& cfg,
                               const modules::ModelTokenizerPtr& tokenizer);

// `dataset` with every sample's token ids checked, as it is read, against the model's
// vocabulary [0, vocab_size): an id outside it (a tokenizer or template that does not match
// the model) stops the run naming the sample and the id, instead of failing inside the
// embedding. `where` names the model's size ("model.vocab_size (file:line:col)").
DatasetPtr check_token_ids(DatasetPtr dataset, int64_t vocab_size, const std::string& where);

}  // namespace tt::data
