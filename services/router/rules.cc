#include "services/router/rules.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "re2/re2.h"
#include "services/common/base/yaml_errors.h"
#include "services/common/names/names.h"
#include "services/router/text_signals.h"
#include "yaml-cpp/yaml.h"

namespace earshot::router {
namespace {

using names::EnumName;
using names::kDirections;
using names::kKinds;
using names::kPlatforms;
using names::kPriorities;

using earshot::v1::Direction;
using earshot::v1::Event;
using earshot::v1::Kind;
using earshot::v1::Platform;
using earshot::v1::Priority;
using earshot::v1::RoutingDecision;

// What every condition sees of one event; the text signals are computed once per event.
struct EvalContext {
  const Event& event;
  std::string lang;
  bool is_question = false;
  bool is_complaint = false;
};

using Condition = std::function<bool(const EvalContext&)>;

struct Actions {
  std::optional<std::string> queue;
  std::optional<Priority> priority;
  std::vector<std::string> tags;
  std::optional<std::string> sla_policy;
  bool ignore = false;
  bool continue_ = false;
};

struct Rule {
  std::string name;
  Condition when;  // empty: always matches
  Actions then;
};

struct Defaults {
  std::string queue = "general";
  Priority priority = earshot::v1::PRIORITY_NORMAL;
  std::string sla_policy = "default";
};

template <typename E, size_t N>
std::string EnumNames(const EnumName<E> (&names)[N]) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n.name;
  }
  return out;
}

RE2::Options RegexOptions() {
  RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  return options;
}

bool TextIsBlank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  });
}

// The rules of one file, compiled. Built by Parser (or Default()), owned by the router through
// a pointer it swaps on reload, never changed afterwards: Decide() runs on any thread.
class CompiledRuleSet final : public RuleSet {
 public:
  CompiledRuleSet(Defaults defaults, std::vector<Rule> rules, WordMatcher complaint)
      : defaults_(std::move(defaults)),
        rules_(std::move(rules)),
        complaint_(std::move(complaint)) {}

  RoutingDecision Decide(const Event& event) const override {
    EvalContext ctx{event};
    ctx.lang = NormalizeLanguageTag(event.lang());
    if (ctx.lang.empty()) ctx.lang = DetectLanguage(event.text());
    ctx.is_question = IsQuestion(event.text(), ctx.lang);
    ctx.is_complaint = complaint_.Matches(event.text());

    RoutingDecision decision;
    decision.set_queue(defaults_.queue);
    decision.set_sla_policy(defaults_.sla_policy);
    decision.set_lang(ctx.lang);
    decision.set_is_question(ctx.is_question);
    decision.set_is_complaint(ctx.is_complaint);
    std::optional<Priority> priority;
    std::set<std::string> tags;
    for (const Rule& rule : rules_) {
      if (rule.when && !rule.when(ctx)) continue;
      decision.add_rules(rule.name);
      const Actions& a = rule.then;
      if (a.queue) decision.set_queue(*a.queue);
      if (a.sla_policy) decision.set_sla_policy(*a.sla_policy);
      // A later rule may raise the priority an earlier one set, never lower it, so that a
      // `continue` rule's flag (an influencer, say) survives the rules after it.
      if (a.priority && (!priority || *a.priority > *priority)) priority = a.priority;
      for (const std::string& tag : a.tags) {
        if (tags.insert(tag).second) decision.add_tags(tag);
      }
      if (a.ignore) decision.set_ignore(true);
      if (!a.continue_) break;
    }
    decision.set_priority(priority.value_or(defaults_.priority));
    return decision;
  }

  size_t rule_count() const override { return rules_.size(); }
  std::vector<std::string> queues() const override {
    std::set<std::string> out = {defaults_.queue};
    for (const Rule& rule : rules_) {
      if (rule.then.queue) out.insert(*rule.then.queue);
    }
    return {out.begin(), out.end()};
  }

 private:
  const Defaults defaults_;
  const std::vector<Rule> rules_;
  const WordMatcher complaint_;
};

using Entry = YamlEntry;

// Turns one YAML document into a CompiledRuleSet, collecting every error with its line so that
// a user fixes a file in one go. Used once per load, on the loading thread.
class Parser : private YamlErrors {
 public:
  explicit Parser(std::string_view source) : YamlErrors(source) {}

  absl::StatusOr<std::unique_ptr<RuleSet>> Parse(std::string_view yaml) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: invalid YAML: {}", source_, e.mark.line + 1, e.msg));
    }
    try {
      return Build(root);
    } catch (const YAML::Exception& e) {
      // Not expected: every node is type-checked before it is read.
      return absl::InvalidArgumentError(fmt::format("{}:{}: {}", source_, e.mark.line + 1, e.msg));
    }
  }

 private:
  absl::StatusOr<std::unique_ptr<RuleSet>> Build(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) {
      return absl::InvalidArgumentError(
          fmt::format("{}:1: the rule file is empty (expected defaults, lexicon, rules)", source_));
    }
    if (!root.IsMap()) {
      Error(root, "the top level must be a map with defaults, lexicon and rules");
      return Result();
    }
    YAML::Node defaults, lexicon, rules;
    for (const Entry& e : Entries(root)) {
      if (e.key == "defaults") {
        defaults = e.value;
      } else if (e.key == "lexicon") {
        lexicon = e.value;
      } else if (e.key == "rules") {
        rules = e.value;
      } else {
        Error(
            e.key_node,
            fmt::format("unknown top-level key \"{}\" (expected defaults, lexicon, rules)", e.key));
      }
    }
    // The lexicon first: rules refer to it wherever it stands in the file.
    // An empty section (`rules:` with nothing under it) is allowed and means none.
    if (lexicon && !lexicon.IsNull()) ParseLexicon(lexicon);
    if (defaults && !defaults.IsNull()) ParseDefaults(defaults);
    if (rules && !rules.IsNull()) ParseRules(rules);

    std::vector<std::string> complaint_words = BuiltinComplaintWords();
    if (auto it = lexicon_.find("complaint"); it != lexicon_.end()) {
      complaint_words.insert(complaint_words.end(), it->second.begin(), it->second.end());
    }
    auto complaint = WordMatcher::Create(complaint_words);
    if (!complaint.ok()) {
      Error(lexicon, "lexicon \"complaint\": " + std::string(complaint.status().message()));
    }
    if (error_count() > 0) return Result();
    return std::unique_ptr<RuleSet>(
        new CompiledRuleSet(std::move(defaults_), std::move(rules_), *std::move(complaint)));
  }

  // ---- YAML shapes -------------------------------------------------------------------------

  // A value given either as one scalar or as a list of scalars.
  std::optional<std::vector<std::string>> StringList(const Entry& e, std::string_view what) {
    std::vector<std::string> out;
    if (e.value.IsScalar()) {
      out.push_back(e.value.Scalar());
      return out;
    }
    if (e.value.IsSequence() && e.value.size() == 0) {
      Error(At(e), fmt::format("{} \"{}\": the list is empty", what, e.key));
      return std::nullopt;
    }
    if (e.value.IsSequence()) {
      for (const YAML::Node& item : e.value) {
        if (!item.IsScalar()) {
          Error(item,
                fmt::format("{} \"{}\": expected a string, got {}", what, e.key, Shown(item)));
          return std::nullopt;
        }
        out.push_back(item.Scalar());
      }
      return out;
    }
    Error(At(e), fmt::format("{} \"{}\": expected a string or a list of strings, got {}", what,
                             e.key, Shown(e.value)));
    return std::nullopt;
  }

  std::optional<std::string> String(const Entry& e, std::string_view what) {
    if (!e.value.IsScalar()) {
      Error(At(e),
            fmt::format("{} \"{}\": expected a string, got {}", what, e.key, Shown(e.value)));
      return std::nullopt;
    }
    if (e.value.Scalar().empty()) {
      Error(At(e), fmt::format("{} \"{}\": must not be empty", what, e.key));
      return std::nullopt;
    }
    return e.value.Scalar();
  }

  std::optional<bool> Bool(const Entry& e, std::string_view what) {
    bool b = false;
    if (!e.value.IsScalar() || !YAML::convert<bool>::decode(e.value, b)) {
      Error(At(e),
            fmt::format("{} \"{}\": expected true or false, got {}", what, e.key, Shown(e.value)));
      return std::nullopt;
    }
    return b;
  }

  std::optional<int64_t> Count(const Entry& e, std::string_view what) {
    int64_t n = 0;
    if (!e.value.IsScalar() || !YAML::convert<int64_t>::decode(e.value, n) || n < 0) {
      Error(At(e), fmt::format("{} \"{}\": expected a whole number >= 0, got {}", what, e.key,
                               Shown(e.value)));
      return std::nullopt;
    }
    return n;
  }

  // `blame` is the node an error points at when `node` is empty.
  template <typename E, size_t N>
  std::optional<E> EnumValue(const YAML::Node& node, std::string_view kind,
                             const EnumName<E> (&names)[N], const YAML::Node& blame) {
    if (node.IsScalar()) {
      for (const auto& n : names) {
        if (n.name == node.Scalar()) return n.value;
      }
    }
    Error(node.IsNull() ? blame : node,
          fmt::format("unknown {} {} (expected one of {})", kind, Shown(node), EnumNames(names)));
    return std::nullopt;
  }

  template <typename E, size_t N>
  std::optional<std::set<int>> EnumSet(const Entry& e, std::string_view kind,
                                       const EnumName<E> (&names)[N]) {
    auto items = OneOrList(e.value);
    if (!items || items->empty()) {
      Error(At(e), fmt::format("condition \"{}\": expected one {} or a list of them", e.key, kind));
      return std::nullopt;
    }
    std::set<int> out;
    bool ok = true;
    for (const YAML::Node& item : *items) {
      if (auto v = EnumValue(item, kind, names, e.key_node)) {
        out.insert(static_cast<int>(*v));
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // ---- sections ----------------------------------------------------------------------------

  void ParseLexicon(const YAML::Node& node) {
    if (!node.IsMap()) {
      Error(node, "lexicon: expected a map of names to word lists");
      return;
    }
    static const RE2 kName("[A-Za-z0-9_-]+");
    for (const Entry& e : Entries(node)) {
      if (!RE2::FullMatch(e.key, kName)) {
        Error(e.key_node,
              fmt::format("lexicon name \"{}\": use letters, digits, '_' and '-'", e.key));
        continue;
      }
      if (!e.value.IsSequence() || e.value.size() == 0) {
        Error(At(e), fmt::format("lexicon \"{}\": expected a non-empty list of words", e.key));
        continue;
      }
      std::vector<std::string> words;
      bool ok = true;
      for (const YAML::Node& item : e.value) {
        if (!item.IsScalar() || item.Scalar().empty()) {
          Error(item, fmt::format("lexicon \"{}\": every entry must be a non-empty word, got {}",
                                  e.key, Shown(item)));
          ok = false;
          continue;
        }
        words.push_back(item.Scalar());
      }
      if (ok) lexicon_[e.key] = std::move(words);
    }
  }

  void ParseDefaults(const YAML::Node& node) {
    if (!node.IsMap()) {
      Error(node, "defaults: expected a map with queue, priority, sla_policy");
      return;
    }
    for (const Entry& e : Entries(node)) {
      if (e.key == "queue") {
        if (auto v = String(e, "default")) defaults_.queue = *v;
      } else if (e.key == "sla_policy") {
        if (auto v = String(e, "default")) defaults_.sla_policy = *v;
      } else if (e.key == "priority") {
        if (auto v = EnumValue(e.value, "priority", kPriorities, e.key_node)) {
          defaults_.priority = *v;
        }
      } else {
        Error(e.key_node,
              fmt::format("unknown default \"{}\" (expected queue, priority, sla_policy)", e.key));
      }
    }
  }

  void ParseRules(const YAML::Node& node) {
    if (!node.IsSequence()) {
      Error(node, "rules: expected a list of rules");
      return;
    }
    std::map<std::string, int> first_line;
    int index = 0;
    for (const YAML::Node& item : node) {
      ++index;
      set_context("");
      if (!item.IsMap()) {
        Error(item, fmt::format("rule #{}: expected a map with name, when, then", index));
        continue;
      }
      Rule rule;
      bool named = false;
      std::vector<Entry> entries = Entries(item);
      for (const Entry& e : entries) {
        if (e.key == "name") {
          if (!e.value.IsScalar() || e.value.Scalar().empty()) {
            Error(At(e), fmt::format("rule #{}: name must be a non-empty string", index));
            named = true;  // reported; do not report it missing as well
            continue;
          }
          rule.name = e.value.Scalar();
          named = true;
          auto [it, inserted] = first_line.emplace(rule.name, Line(e.value));
          if (!inserted) {
            Error(e.value, fmt::format("duplicate rule name \"{}\" (first used on line {})",
                                       rule.name, it->second));
          }
        }
      }
      if (!named) Error(item, fmt::format("rule #{} has no name", index));
      set_context(fmt::format("rule \"{}\"",
                              named && !rule.name.empty() ? rule.name : fmt::format("#{}", index)));
      for (const Entry& e : entries) {
        if (e.key == "name" || e.key == "description") continue;
        if (e.key == "when") {
          rule.when = ParseConditionMap(e.value, e.key_node);
        } else if (e.key == "then") {
          rule.then = ParseActions(e);
        } else {
          Error(e.key_node, fmt::format("unknown rule key \"{}\" (expected name, description, "
                                        "when, then)",
                                        e.key));
        }
      }
      rules_.push_back(std::move(rule));
    }
    set_context("");
  }

  // ---- conditions --------------------------------------------------------------------------

  // All conditions of a map must hold. An empty map always holds.
  Condition ParseConditionMap(const YAML::Node& node, const YAML::Node& owner) {
    if (node.IsNull()) return nullptr;
    if (!node.IsMap()) {
      Error(Line(node) > 0 ? node : owner,
            fmt::format("conditions must be a map (like {{kind: comment}}), got {}", Shown(node)));
      return nullptr;
    }
    std::vector<Condition> all;
    for (const Entry& e : Entries(node)) {
      if (Condition c = ParseCondition(e)) all.push_back(std::move(c));
    }
    if (all.empty()) return nullptr;
    if (all.size() == 1) return std::move(all.front());
    return [all = std::move(all)](const EvalContext& ctx) {
      return std::all_of(all.begin(), all.end(), [&](const Condition& c) { return c(ctx); });
    };
  }

  // A list of condition maps, for `any` and `all`.
  std::optional<std::vector<Condition>> ParseConditionList(const Entry& e) {
    if (!e.value.IsSequence()) {
      Error(At(e),
            fmt::format("\"{}\": expected a list of conditions, got {}", e.key, Shown(e.value)));
      return std::nullopt;
    }
    if (e.value.size() == 0) {
      Error(At(e), fmt::format("\"{}\": the list of conditions is empty", e.key));
      return std::nullopt;
    }
    std::vector<Condition> out;
    for (const YAML::Node& item : e.value) {
      if (item.IsMap() && item.size() == 0) {
        out.push_back([](const EvalContext&) { return true; });
        continue;
      }
      const size_t errors_before = error_count();
      Condition c = ParseConditionMap(item, e.key_node);
      if (error_count() != errors_before) return std::nullopt;
      out.push_back(c ? std::move(c) : [](const EvalContext&) { return true; });
    }
    return out;
  }

  Condition ParseCondition(const Entry& e) {
    const std::string& k = e.key;
    if (k == "platform" || k == "kind" || k == "direction") {
      std::optional<std::set<int>> set;
      if (k == "platform") set = EnumSet(e, "platform", kPlatforms);
      if (k == "kind") set = EnumSet(e, "kind", kKinds);
      if (k == "direction") set = EnumSet(e, "direction", kDirections);
      if (!set) return nullptr;
      if (k == "platform") {
        return [s = *set](const EvalContext& c) { return s.count(c.event.platform()) > 0; };
      }
      if (k == "kind") {
        return [s = *set](const EvalContext& c) { return s.count(c.event.kind()) > 0; };
      }
      return [s = *set](const EvalContext& c) { return s.count(c.event.direction()) > 0; };
    }
    if (k == "account") {
      auto list = StringList(e, "condition");
      if (!list) return nullptr;
      return [s = std::set<std::string>(list->begin(), list->end())](const EvalContext& c) {
        return s.count(c.event.account_id()) > 0;
      };
    }
    if (k == "lang") {
      auto list = StringList(e, "condition");
      if (!list) return nullptr;
      std::set<std::string> langs;
      for (const std::string& l : *list) langs.insert(NormalizeLanguageTag(l));
      return [langs](const EvalContext& c) { return langs.count(c.lang) > 0; };
    }
    if (k == "keywords") return ParseKeywords(e);
    if (k == "regex") {
      auto list = StringList(e, "condition");
      if (!list) return nullptr;
      std::vector<std::shared_ptr<const RE2>> res;
      for (const std::string& pattern : *list) {
        auto re = CompileRegex(pattern, At(e));
        if (!re) return nullptr;
        res.push_back(std::move(re));
      }
      return [res = std::move(res)](const EvalContext& c) {
        const re2::StringPiece text(c.event.text());
        return std::any_of(res.begin(), res.end(),
                           [&](const auto& re) { return RE2::PartialMatch(text, *re); });
      };
    }
    if (k == "question" || k == "complaint" || k == "text_empty" || k == "author_is_bot") {
      auto want = Bool(e, "condition");
      if (!want) return nullptr;
      const bool w = *want;
      if (k == "question") return [w](const EvalContext& c) { return c.is_question == w; };
      if (k == "complaint") return [w](const EvalContext& c) { return c.is_complaint == w; };
      if (k == "author_is_bot") {
        return [w](const EvalContext& c) { return c.event.author().is_bot() == w; };
      }
      return [w](const EvalContext& c) { return TextIsBlank(c.event.text()) == w; };
    }
    if (k == "followers_min" || k == "followers_max") {
      auto n = Count(e, "condition");
      if (!n) return nullptr;
      const int64_t limit = *n;
      // Without a follower count the condition cannot be shown to hold, either way.
      if (k == "followers_min") {
        return [limit](const EvalContext& c) {
          return c.event.author().has_follower_count() &&
                 c.event.author().follower_count() >= limit;
        };
      }
      return [limit](const EvalContext& c) {
        return c.event.author().has_follower_count() && c.event.author().follower_count() <= limit;
      };
    }
    if (k == "attribute") return ParseAttribute(e);
    if (k == "any" || k == "all") {
      auto list = ParseConditionList(e);
      if (!list) return nullptr;
      if (k == "any") {
        return [l = std::move(*list)](const EvalContext& c) {
          return std::any_of(l.begin(), l.end(), [&](const Condition& x) { return x(c); });
        };
      }
      return [l = std::move(*list)](const EvalContext& c) {
        return std::all_of(l.begin(), l.end(), [&](const Condition& x) { return x(c); });
      };
    }
    if (k == "not") {
      if (!e.value.IsMap()) {
        Error(At(e), fmt::format("\"not\": expected a map of conditions, got {}", Shown(e.value)));
        return nullptr;
      }
      const size_t errors_before = error_count();
      Condition inner = ParseConditionMap(e.value, e.key_node);
      if (error_count() != errors_before) return nullptr;
      if (!inner) return [](const EvalContext&) { return false; };
      return [inner = std::move(inner)](const EvalContext& c) { return !inner(c); };
    }
    Error(e.key_node,
          fmt::format("unknown condition \"{}\" (expected platform, account, kind, direction, "
                      "lang, keywords, regex, question, complaint, followers_min, followers_max, "
                      "author_is_bot, attribute, text_empty, any, all, not)",
                      k));
    return nullptr;
  }

  Condition ParseKeywords(const Entry& e) {
    std::vector<std::string> words;
    auto items = OneOrList(e.value);
    if (!items || items->empty()) {
      Error(At(e), "condition \"keywords\": expected a non-empty list of words or @lexicon names");
      return nullptr;
    }
    bool ok = true;
    for (const YAML::Node& item : *items) {
      if (!item.IsScalar() || item.Scalar().empty()) {
        Error(item, fmt::format("condition \"keywords\": expected a word, got {}", Shown(item)));
        ok = false;
        continue;
      }
      const std::string& word = item.Scalar();
      if (word[0] != '@') {
        words.push_back(word);
        continue;
      }
      const std::string name = word.substr(1);
      if (name == "complaint") {
        const auto& builtin = BuiltinComplaintWords();
        words.insert(words.end(), builtin.begin(), builtin.end());
      }
      if (auto it = lexicon_.find(name); it != lexicon_.end()) {
        words.insert(words.end(), it->second.begin(), it->second.end());
      } else if (name != "complaint") {
        Error(item, fmt::format("condition \"keywords\": unknown lexicon \"{}\"", word));
        ok = false;
      }
    }
    if (!ok) return nullptr;
    auto matcher = WordMatcher::Create(words);
    if (!matcher.ok()) {
      Error(At(e), "condition \"keywords\": " + std::string(matcher.status().message()));
      return nullptr;
    }
    return [m = *std::move(matcher)](const EvalContext& c) { return m.Matches(c.event.text()); };
  }

  Condition ParseAttribute(const Entry& e) {
    if (!e.value.IsMap() || e.value.size() == 0) {
      Error(At(e), "condition \"attribute\": expected a map of attribute names to values");
      return nullptr;
    }
    // Each attribute must be present and equal the string, or match the {regex: ...}.
    using Check = std::function<bool(const std::string&)>;
    std::vector<std::pair<std::string, Check>> checks;
    bool ok = true;
    for (const Entry& a : Entries(e.value)) {
      if (a.value.IsScalar()) {
        checks.emplace_back(a.key,
                            [want = a.value.Scalar()](const std::string& v) { return v == want; });
        continue;
      }
      if (a.value.IsMap() && a.value.size() == 1 && a.value["regex"] &&
          a.value["regex"].IsScalar()) {
        auto re = CompileRegex(a.value["regex"].Scalar(), a.value["regex"]);
        if (!re) {
          ok = false;
          continue;
        }
        checks.emplace_back(a.key,
                            [re](const std::string& v) { return RE2::PartialMatch(v, *re); });
        continue;
      }
      Error(At(a), fmt::format("attribute \"{}\": expected a string or {{regex: ...}}", a.key));
      ok = false;
    }
    if (!ok) return nullptr;
    return [checks = std::move(checks)](const EvalContext& c) {
      const auto& attrs = c.event.attributes();
      for (const auto& [name, check] : checks) {
        auto it = attrs.find(name);
        if (it == attrs.end() || !check(it->second)) return false;
      }
      return true;
    };
  }

  std::shared_ptr<const RE2> CompileRegex(const std::string& pattern, const YAML::Node& at) {
    auto re = std::make_shared<const RE2>(pattern, RegexOptions());
    if (!re->ok()) {
      Error(at, fmt::format("bad regex \"{}\": {}", pattern, re->error()));
      return nullptr;
    }
    return re;
  }

  // ---- actions -----------------------------------------------------------------------------

  Actions ParseActions(const Entry& then) {
    Actions a;
    if (then.value.IsNull()) return a;
    if (!then.value.IsMap()) {
      Error(At(then),
            fmt::format("\"then\": expected a map of actions, got {}", Shown(then.value)));
      return a;
    }
    for (const Entry& e : Entries(then.value)) {
      if (e.key == "queue") {
        a.queue = String(e, "action");
      } else if (e.key == "sla_policy") {
        a.sla_policy = String(e, "action");
      } else if (e.key == "priority") {
        a.priority = EnumValue(e.value, "priority", kPriorities, e.key_node);
      } else if (e.key == "tags") {
        if (e.value.IsSequence() && e.value.size() == 0) continue;
        if (auto tags = StringList(e, "action")) {
          for (std::string& tag : *tags) {
            if (tag.empty()) {
              Error(At(e), "action \"tags\": a tag must not be empty");
            } else if (std::find(a.tags.begin(), a.tags.end(), tag) == a.tags.end()) {
              a.tags.push_back(std::move(tag));
            }
          }
        }
      } else if (e.key == "ignore") {
        a.ignore = Bool(e, "action").value_or(false);
      } else if (e.key == "continue") {
        a.continue_ = Bool(e, "action").value_or(false);
      } else {
        Error(e.key_node,
              fmt::format("unknown action \"{}\" (expected queue, priority, tags, sla_policy, "
                          "ignore, continue)",
                          e.key));
      }
    }
    return a;
  }

  std::map<std::string, std::vector<std::string>> lexicon_;
  Defaults defaults_;
  std::vector<Rule> rules_;
};

constexpr char kDefaultRules[] = R"(
defaults: {queue: general, priority: normal, sla_policy: default}
rules:
  - name: brand-own-messages
    when: {direction: outbound}
    then: {ignore: true}
)";

}  // namespace

absl::StatusOr<std::unique_ptr<RuleSet>> RuleSet::Parse(std::string_view yaml,
                                                        std::string_view source_name) {
  return Parser(source_name).Parse(yaml);
}

absl::StatusOr<std::unique_ptr<RuleSet>> RuleSet::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        fmt::format("cannot read rule file {}: {}", path, std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

std::unique_ptr<RuleSet> RuleSet::Default() {
  auto rules = Parse(kDefaultRules, "built-in default rules");
  if (!rules.ok()) {
    // A bug in kDefaultRules, caught by the tests; there is nothing sensible to fall back to.
    std::fprintf(stderr, "%s\n", std::string(rules.status().message()).c_str());
    std::abort();
  }
  return *std::move(rules);
}

}  // namespace earshot::router
