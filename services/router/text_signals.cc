#include "services/router/text_signals.h"

// compact_lang_det.h uses FILE without including <cstdio>.
#include <cstdio>

#include <cld2/public/compact_lang_det.h>

#include "absl/status/status.h"
#include "re2/re2.h"

namespace earshot::router {
namespace {

// A character that belongs to a word: letter, combining mark, digit, underscore.
constexpr char kWordChar[] = R"([\pL\pM\pN_])";
constexpr char kNonWordChar[] = R"([^\pL\pM\pN_])";

struct Spelling {
  std::string_view utf8;
  std::string_view pattern;
};

// German letters typed without a German keyboard, and the typographic apostrophe.
constexpr Spelling kSpellings[] = {
    {"ä", "(?:ä|ae)"}, {"Ä", "(?:ä|ae)"}, {"ö", "(?:ö|oe)"}, {"Ö", "(?:ö|oe)"}, {"ü", "(?:ü|ue)"},
    {"Ü", "(?:ü|ue)"}, {"ß", "(?:ß|ss)"}, {"'", "['’]"},     {"’", "['’]"},
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

std::string WordPattern(std::string_view word) {
  bool prefix = false;
  if (!word.empty() && word.back() == '*') {
    prefix = true;
    word.remove_suffix(1);
  }
  std::string out;
  bool pending_space = false;
  size_t i = 0;
  while (i < word.size()) {
    if (IsSpace(word[i])) {
      pending_space = !out.empty();
      ++i;
      continue;
    }
    if (pending_space) {
      out += R"((?:\s|\pZ)+)";
      pending_space = false;
    }
    bool replaced = false;
    for (const Spelling& s : kSpellings) {
      if (word.substr(i, s.utf8.size()) == s.utf8) {
        out += s.pattern;
        i += s.utf8.size();
        replaced = true;
        break;
      }
    }
    if (replaced) continue;
    const unsigned char c = static_cast<unsigned char>(word[i]);
    if (c < 0x80) {
      out += RE2::QuoteMeta(re2::StringPiece(&word[i], 1));
    } else {
      out.push_back(word[i]);  // UTF-8 continuation and lead bytes pass through as they are
    }
    ++i;
  }
  if (prefix) out += std::string(kWordChar) + "*";
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return std::string(s);
}

RE2::Options MatcherOptions() {
  RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  options.set_max_mem(64 << 20);  // long lexicons compile into large automata
  return options;
}

// Skips what may precede the first word of a message: @mentions, whitespace, punctuation and
// symbols (emoji), but not letters, so "@what" is a handle and not a question word.
std::string QuestionOpener(const std::vector<std::string>& words) {
  return std::string(R"(^(?:[^\pL\pM\pN@]|@[\pL\pM\pN_.]*)*(?:)") + WordAlternation(words) +
         ")(?:$|" + kNonWordChar + ")";
}

const RE2& EnglishQuestionOpener() {
  static const RE2* const re = new RE2(
      QuestionOpener({"what",     "when",       "where",      "why",   "how",    "who",   "whom",
                      "whose",    "which",      "can",        "could", "do",     "does",  "did",
                      "is",       "are",        "will",       "would", "should", "shall", "may",
                      "have you", "has anyone", "any update", "anyone"}),
      MatcherOptions());
  return *re;
}

const RE2& GermanQuestionOpener() {
  static const RE2* const re =
      new RE2(QuestionOpener(
                  {"wie",     "was",   "wann",   "wo",    "woher",  "wohin",   "warum",   "wieso",
                   "weshalb", "wer",   "wen",    "wem",   "welche", "welcher", "welches", "welchen",
                   "welchem", "kann",  "kannst", "könnt", "können", "könnte",  "könnten", "gibt es",
                   "gibt's",  "habt",  "hast",   "hat",   "ist",    "sind",    "seid",    "wird",
                   "werden",  "würde", "würden", "darf",  "dürfen", "soll",    "sollen"}),
              MatcherOptions());
  return *re;
}

}  // namespace

std::string WordAlternation(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) {
    if (!out.empty()) out += '|';
    out += WordPattern(Trim(word));
  }
  return out;
}

absl::StatusOr<WordMatcher> WordMatcher::Create(const std::vector<std::string>& words) {
  if (words.empty()) return absl::InvalidArgumentError("the word list is empty");
  for (const std::string& word : words) {
    const std::string trimmed = Trim(word);
    if (trimmed.empty() || trimmed == "*") {
      return absl::InvalidArgumentError("the word list holds an empty word");
    }
  }
  const std::string pattern = std::string("(?:^|") + kNonWordChar +
                              ")(?:" + WordAlternation(words) + ")(?:$|" + kNonWordChar + ")";
  auto re = std::make_shared<const RE2>(pattern, MatcherOptions());
  if (!re->ok()) {
    return absl::InvalidArgumentError("cannot compile the word list: " + re->error());
  }
  return WordMatcher(std::move(re));
}

bool WordMatcher::Matches(std::string_view text) const {
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

std::string NormalizeLanguageTag(std::string_view tag) {
  std::string out;
  for (char c : tag) {
    if (c == '-' || c == '_') break;
    out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  }
  // "und" undetermined, "zxx" no linguistic content, "mul" several, "mis" uncoded; q..
  // is ISO 639's private-use range, which X uses for "only media", "only hashtags" and the like.
  if (out == "und" || out == "zxx" || out == "mul" || out == "mis") return "";
  if (out.size() == 3 && out[0] == 'q') return "";
  return out;
}

std::string DetectLanguage(std::string_view text) {
  if (text.empty()) return "";
  // Handles and links are not language; they push short texts towards English.
  static const RE2* const noise =
      new RE2(R"(@[\pL\pM\pN_.]+|(?i:https?://|www\.)\S*)", MatcherOptions());
  std::string clean(text);
  RE2::GlobalReplace(&clean, *noise, " ");
  bool reliable = false;
  int valid_prefix = 0;
  const CLD2::Language lang =
      CLD2::DetectLanguageCheckUTF8(clean.data(), static_cast<int>(clean.size()),
                                    /*is_plain_text=*/true, &reliable, &valid_prefix);
  if (!reliable || lang == CLD2::UNKNOWN_LANGUAGE || lang == CLD2::TG_UNKNOWN_LANGUAGE) return "";
  const char* code = CLD2::LanguageCode(lang);
  return code == nullptr ? "" : std::string(code);
}

bool IsQuestion(std::string_view text, std::string_view lang) {
  if (text.find('?') != std::string_view::npos) return true;
  if (text.find("？") != std::string_view::npos) return true;  // full-width question mark
  const re2::StringPiece piece(text.data(), text.size());
  if (lang != "de" && RE2::PartialMatch(piece, EnglishQuestionOpener())) return true;
  if (lang != "en" && RE2::PartialMatch(piece, GermanQuestionOpener())) return true;
  return false;
}

const std::vector<std::string>& BuiltinComplaintWords() {
  static const std::vector<std::string>* const words = new std::vector<std::string>{
      // English
      "broken", "damaged", "faulty", "defective", "refund*", "terrible", "horrible", "awful",
      "worst", "never again", "still waiting", "still not received", "never arrived",
      "never received", "no answer", "no response", "no reply", "scam*", "fraud", "rip-off",
      "ripoff", "disappointed", "disappointing", "unacceptable", "complaint*", "complain",
      "not working", "doesn't work", "does not work", "stopped working", "useless",
      "waste of money", "wrong item", "fed up",
      // German
      "kaputt*", "defekt*", "beschädigt*", "erstattung", "rückerstattung", "geld zurück",
      "schlecht*", "schlimmste*", "nie wieder", "warte immer noch", "warten immer noch",
      "warte seit", "keine antwort", "keine rückmeldung", "betrug", "betrüger*", "abzocke",
      "enttäuscht*", "enttäuschend", "unverschämt*", "frechheit", "beschwerde*", "reklamation*",
      "reklamier*", "funktioniert nicht", "geht nicht", "mangelhaft", "unzufrieden*", "katastroph*",
      "nicht angekommen", "nie angekommen", "falsche lieferung", "ärgerlich"};
  return *words;
}

}  // namespace earshot::router
