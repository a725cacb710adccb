// Registers every component torchtune_cpp provides under torchtune's dotted names, and the
// torchtune components it does not provide with the alternative to use. Called once by
// `tune` and by each recipe before reading its config; safe to call again.
#pragma once

namespace tt {

void register_builtin_components();

}  // namespace tt
