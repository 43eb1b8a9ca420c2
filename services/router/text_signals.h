#pragma once
// Text signals the routing rules test: the language of a message (CLD2), whether it asks a
// question, and whole-word keyword matching (which also finds complaint words). All of it is
// heuristic and tuned for German and English; the limits are listed in services/router/README.md.
// Free functions and immutable matchers: any thread.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace earshot::router {

// A list of words and phrases compiled into one case-insensitive RE2 that matches any of them as
// whole words. Boundaries are Unicode-aware (a letter, mark, digit or '_' on either side means no
// match), so "preis" does not match "Preisliste" and "kaputt" does not match "unkaputtbar".
// In a word:
//   - a trailing '*' matches any continuation of the word: "kaputt*" matches "kaputte";
//   - whitespace inside a phrase matches any run of whitespace: "in stock" matches "in  stock";
//   - an apostrophe also matches the typographic one: "doesn't" matches "doesn’t";
//   - ä, ö, ü and ß also match their ASCII spellings ae, oe, ue and ss: "kündigen" matches
//     "kuendigen".
// Built once at start-up (or reload); Matches() is const and safe from any thread.
class WordMatcher {
 public:
  // InvalidArgument when the list is empty, holds an empty word, or the pattern is too large.
  static absl::StatusOr<WordMatcher> Create(const std::vector<std::string>& words);

  bool Matches(std::string_view text) const;

 private:
  explicit WordMatcher(std::shared_ptr<const re2::RE2> re) : re_(std::move(re)) {}
  std::shared_ptr<const re2::RE2> re_;
};

// The RE2 alternation for `words` (no boundaries, no flags), with the rules of WordMatcher.
// Exposed so that other patterns (question openers) spell words the same way.
std::string WordAlternation(const std::vector<std::string>& words);

// The primary subtag of a language tag, lower-cased: "en-GB" -> "en", "DE" -> "de". Empty for
// tags that say "unknown" ("und", "zxx", "qme" and other private-use "q.." codes X sends).
std::string NormalizeLanguageTag(std::string_view tag);

// CLD2 on plain text, with @mentions and URLs removed first. Returns CLD2's code ("en", "de",
// ...) only when CLD2 calls the result reliable; "" otherwise, including for invalid UTF-8.
std::string DetectLanguage(std::string_view text);

// True when the text contains '?' or '？', or starts (after @mentions, punctuation and
// whitespace) with an English or German question word or auxiliary ("how", "can", "wie",
// "gibt es", ...). `lang` narrows the word lists: with "de" only German openers count, with "en"
// only English ones, otherwise both (so the English statement "Was great!" is not a German
// question when the message is known to be English).
bool IsQuestion(std::string_view text, std::string_view lang);

// The built-in English and German complaint words (in WordMatcher syntax). The rule file's
// `lexicon.complaint` adds to them.
const std::vector<std::string>& BuiltinComplaintWords();

}  // namespace earshot::router
