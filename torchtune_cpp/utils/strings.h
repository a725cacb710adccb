// Small text helpers: did-you-mean suggestions and joining for messages, and Python's text
// of a float for files that Python tools read or compare.
#pragma once

#include <string>
#include <vector>

namespace tt {

// Edit distance (insert, delete, substitute, each cost 1).
size_t edit_distance(const std::string& a, const std::string& b);

// Up to `max_count` candidates closest to `word`, nearest first; only those within a
// distance that makes them plausible typos (or that share the word's last dotted segment).
std::vector<std::string> closest_matches(const std::string& word,
                                         const std::vector<std::string>& candidates,
                                         size_t max_count = 3);

std::string join(const std::vector<std::string>& parts, const std::string& sep);

// " Did you mean 'a' or 'b'?" or "" when nothing is close.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// Python's str()/repr() of a float: the shortest digits that read back as the same double,
// in fixed notation for exponents -4..15 and scientific otherwise: "1.5", "0.0001", "1e-05",
// "2.0", "-0.0", "1e+16", "1000000000000000.0", "nan", "-inf".
std::string python_float_str(double value);

}  // namespace tt
