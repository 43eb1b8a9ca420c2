#include "services/router/rules.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace earshot::router {
namespace {

using earshot::v1::Event;
using earshot::v1::RoutingDecision;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr char kExampleRules[] = EARSHOT_FIXTURES_DIR "/../../config/rules.example.yaml";

Event Message(std::string text) {
  Event e;
  e.set_event_id("x:1");
  e.set_platform(earshot::v1::PLATFORM_X);
  e.set_account_id("4000000001");
  e.set_direction(earshot::v1::DIRECTION_INBOUND);
  e.set_kind(earshot::v1::KIND_MENTION);
  e.mutable_author()->set_id("u1");
  e.set_text(std::move(text));
  return e;
}

std::unique_ptr<RuleSet> MustParse(const std::string& yaml) {
  auto rules = RuleSet::Parse(yaml, "rules.yaml");
  EXPECT_TRUE(rules.ok()) << rules.status();
  if (!rules.ok()) return RuleSet::Default();
  return *std::move(rules);
}

// The error message of a rule file that must be refused.
std::string ErrorOf(const std::string& yaml) {
  auto rules = RuleSet::Parse(yaml, "rules.yaml");
  EXPECT_FALSE(rules.ok()) << "accepted:\n" << yaml;
  if (rules.ok()) return "";
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(rules.status().message());
}

// A rule file with one rule "hit" (queue "hit") on the given condition map.
std::unique_ptr<RuleSet> OneRule(const std::string& when) {
  return MustParse("rules:\n  - name: hit\n    when: " + when + "\n    then: {queue: hit}\n");
}

bool Hits(const RuleSet& rules, const Event& e) { return rules.Decide(e).queue() == "hit"; }

// ---- Conditions ---------------------------------------------------------------------------

TEST(RuleConditionTest, Platform) {
  auto rules = OneRule("{platform: [instagram, facebook]}");
  Event e = Message("hello");
  EXPECT_FALSE(Hits(*rules, e));
  e.set_platform(earshot::v1::PLATFORM_INSTAGRAM);
  EXPECT_TRUE(Hits(*rules, e));
  auto single = OneRule("{platform: x}");
  EXPECT_FALSE(Hits(*single, e));
  EXPECT_TRUE(Hits(*single, Message("hello")));
}

TEST(RuleConditionTest, Account) {
  auto rules = OneRule("{account: ['4000000001', page-2]}");
  Event e = Message("hello");
  EXPECT_TRUE(Hits(*rules, e));
  e.set_account_id("page-3");
  EXPECT_FALSE(Hits(*rules, e));
  // Numeric ids written without quotes are still account ids.
  auto unquoted = OneRule("{account: 4000000001}");
  EXPECT_TRUE(Hits(*unquoted, Message("hello")));
}

TEST(RuleConditionTest, Kind) {
  auto rules = OneRule("{kind: [direct_message, review]}");
  Event e = Message("hello");
  EXPECT_FALSE(Hits(*rules, e));
  e.set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
  EXPECT_TRUE(Hits(*rules, e));
  e.set_kind(earshot::v1::KIND_REVIEW);
  EXPECT_TRUE(Hits(*rules, e));
}

TEST(RuleConditionTest, Direction) {
  auto rules = OneRule("{direction: outbound}");
  Event e = Message("hello");
  EXPECT_FALSE(Hits(*rules, e));
  e.set_direction(earshot::v1::DIRECTION_OUTBOUND);
  EXPECT_TRUE(Hits(*rules, e));
}

TEST(RuleConditionTest, LangFromEventNormalised) {
  auto rules = OneRule("{lang: [de, fr]}");
  Event e = Message("ok");
  e.set_lang("de-AT");
  EXPECT_TRUE(Hits(*rules, e));
  EXPECT_EQ(rules->Decide(e).lang(), "de");
  e.set_lang("EN");
  EXPECT_FALSE(Hits(*rules, e));
  EXPECT_EQ(rules->Decide(e).lang(), "en");
}

TEST(RuleConditionTest, LangDetectedWhenEventHasNone) {
  auto rules = OneRule("{lang: de}");
  Event german = Message(
      "Hallo, mein Paket ist seit zwei Wochen nicht angekommen und niemand "
      "antwortet auf meine E-Mails.");
  EXPECT_TRUE(Hits(*rules, german));
  // X's "und" (undetermined) is no language: detection decides.
  german.set_lang("und");
  EXPECT_TRUE(Hits(*rules, german));
  Event english = Message(
      "Hello, my parcel has not arrived after two weeks and nobody answers "
      "my emails.");
  EXPECT_FALSE(Hits(*rules, english));
}

TEST(RuleConditionTest, LangEmptyMatchesUndetectable) {
  auto rules = OneRule("{lang: ''}");
  EXPECT_TRUE(Hits(*rules, Message("👍👍")));
  EXPECT_FALSE(Hits(*rules, Message("Vielen Dank für die schnelle Lieferung, alles ist super "
                                    "angekommen und passt perfekt.")));
}

TEST(RuleConditionTest, KeywordsMatchWholeWordsCaseInsensitively) {
  auto rules = OneRule("{keywords: [preis, in stock, Kündigen]}");
  EXPECT_TRUE(Hits(*rules, Message("Was ist der PREIS?")));
  EXPECT_TRUE(Hits(*rules, Message("Preis: 20 Euro")));
  EXPECT_TRUE(Hits(*rules, Message("is it in\n stock")));
  EXPECT_TRUE(Hits(*rules, Message("ich will KÜNDIGEN")));
  EXPECT_FALSE(Hits(*rules, Message("Wo finde ich die Preisliste")));
  EXPECT_FALSE(Hits(*rules, Message("Superpreis")));
  EXPECT_FALSE(Hits(*rules, Message("in the stock room")));
  // Unicode-aware boundaries: a letter with an umlaut is part of the word.
  EXPECT_FALSE(Hits(*rules, Message("preisä")));
}

TEST(RuleConditionTest, KeywordsUmlautSpellingsPrefixAndApostrophes) {
  auto rules = OneRule("{keywords: [kündigen, straße, beschädigt*, doesn't work]}");
  EXPECT_TRUE(Hits(*rules, Message("ich moechte kuendigen")));
  EXPECT_TRUE(Hits(*rules, Message("welche STRASSE")));
  EXPECT_TRUE(Hits(*rules, Message("die Ware kam beschädigte an")));
  EXPECT_TRUE(Hits(*rules, Message("It doesn’t work")));
  EXPECT_FALSE(Hits(*rules, Message("unbeschädigt")));
  EXPECT_FALSE(Hits(*rules, Message("it works")));
}

TEST(RuleConditionTest, KeywordsFromLexicon) {
  auto rules = MustParse(R"(
lexicon:
  buy: [kaufen, buy]
rules:
  - name: hit
    when: {keywords: ['@buy', bestellen]}
    then: {queue: hit}
)");
  EXPECT_TRUE(Hits(*rules, Message("I want to buy this")));
  EXPECT_TRUE(Hits(*rules, Message("Kann ich das bestellen")));
  EXPECT_FALSE(Hits(*rules, Message("Just looking")));
}

TEST(RuleConditionTest, RegexIsCaseInsensitiveAndUtf8) {
  auto rules = OneRule(R"({regex: 'k(ü|ue)ndig(en|ung)|cancel(l?ation)?'})");
  EXPECT_TRUE(Hits(*rules, Message("Ich möchte die KÜNDIGUNG bestätigt haben")));
  EXPECT_TRUE(Hits(*rules, Message("Kuendigen bitte")));
  EXPECT_TRUE(Hits(*rules, Message("Please CANCEL my order")));
  EXPECT_FALSE(Hits(*rules, Message("Where is my order?")));
  auto list = OneRule(R"({regex: ['^\d+$', 'AC-\d{6}']})");
  EXPECT_TRUE(Hits(*list, Message("order ac-123456")));
  EXPECT_TRUE(Hits(*list, Message("42")));
  EXPECT_FALSE(Hits(*list, Message("order 42")));
}

TEST(RuleConditionTest, Question) {
  auto yes = OneRule("{question: true}");
  auto no = OneRule("{question: false}");
  Event q = Message("Do you ship to Austria");
  Event s = Message("Thanks for the quick delivery");
  EXPECT_TRUE(Hits(*yes, q));
  EXPECT_FALSE(Hits(*no, q));
  EXPECT_FALSE(Hits(*yes, s));
  EXPECT_TRUE(Hits(*no, s));
}

TEST(RuleConditionTest, Complaint) {
  auto yes = OneRule("{complaint: true}");
  auto no = OneRule("{complaint: false}");
  Event c = Message("The parcel arrived damaged");
  Event p = Message("The parcel arrived, thanks");
  EXPECT_TRUE(Hits(*yes, c));
  EXPECT_FALSE(Hits(*no, c));
  EXPECT_FALSE(Hits(*yes, p));
  EXPECT_TRUE(Hits(*no, p));
}

TEST(RuleConditionTest, FollowersMinAndMax) {
  auto min = OneRule("{followers_min: 10000}");
  auto max = OneRule("{followers_max: 100}");
  Event e = Message("hello");
  // Without a follower count neither bound can be shown to hold.
  EXPECT_FALSE(Hits(*min, e));
  EXPECT_FALSE(Hits(*max, e));
  e.mutable_author()->set_follower_count(10000);
  EXPECT_TRUE(Hits(*min, e));
  EXPECT_FALSE(Hits(*max, e));
  e.mutable_author()->set_follower_count(9999);
  EXPECT_FALSE(Hits(*min, e));
  e.mutable_author()->set_follower_count(100);
  EXPECT_TRUE(Hits(*max, e));
  e.mutable_author()->set_follower_count(0);
  EXPECT_TRUE(Hits(*max, e));
}

TEST(RuleConditionTest, AttributeExactAndRegex) {
  auto rules = OneRule("{attribute: {source: trustpilot, rating: {regex: '^[12]$'}}}");
  Event e = Message("meh");
  EXPECT_FALSE(Hits(*rules, e));  // attributes missing
  (*e.mutable_attributes())["source"] = "trustpilot";
  (*e.mutable_attributes())["rating"] = "1";
  EXPECT_TRUE(Hits(*rules, e));
  (*e.mutable_attributes())["rating"] = "5";
  EXPECT_FALSE(Hits(*rules, e));
  (*e.mutable_attributes())["rating"] = "2";
  (*e.mutable_attributes())["source"] = "Trustpilot";  // exact means exact
  EXPECT_FALSE(Hits(*rules, e));
}

TEST(RuleConditionTest, TextEmpty) {
  auto yes = OneRule("{text_empty: true}");
  auto no = OneRule("{text_empty: false}");
  EXPECT_TRUE(Hits(*yes, Message("")));
  EXPECT_TRUE(Hits(*yes, Message("  \n ")));
  EXPECT_FALSE(Hits(*yes, Message("hi")));
  EXPECT_TRUE(Hits(*no, Message("hi")));
  EXPECT_FALSE(Hits(*no, Message("")));
}

TEST(RuleConditionTest, AuthorIsBot) {
  auto rules = OneRule("{author_is_bot: true}");
  Event e = Message("beep");
  EXPECT_FALSE(Hits(*rules, e));
  e.mutable_author()->set_is_bot(true);
  EXPECT_TRUE(Hits(*rules, e));
}

TEST(RuleConditionTest, ConditionsOfOneMapMustAllHold) {
  auto rules = OneRule("{platform: x, kind: direct_message}");
  Event e = Message("hi");
  EXPECT_FALSE(Hits(*rules, e));
  e.set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
  EXPECT_TRUE(Hits(*rules, e));
  e.set_platform(earshot::v1::PLATFORM_TELEGRAM);
  EXPECT_FALSE(Hits(*rules, e));
}

TEST(RuleConditionTest, AnyAllNot) {
  auto rules = MustParse(R"(
rules:
  - name: hit
    when:
      any:
        - keywords: [lawyer]
        - all:
            - kind: direct_message
            - not: {platform: [telegram, whatsapp]}
    then: {queue: hit}
)");
  EXPECT_TRUE(Hits(*rules, Message("my lawyer will call")));
  Event dm = Message("hi");
  dm.set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
  EXPECT_TRUE(Hits(*rules, dm));
  dm.set_platform(earshot::v1::PLATFORM_WHATSAPP);
  EXPECT_FALSE(Hits(*rules, dm));
  EXPECT_FALSE(Hits(*rules, Message("hi")));
}

TEST(RuleConditionTest, MissingWhenMatchesEverything) {
  auto rules = MustParse("rules:\n  - name: catch-all\n    then: {queue: hit}\n");
  EXPECT_TRUE(Hits(*rules, Message("")));
}

// ---- Evaluation order, continue, actions ---------------------------------------------------

constexpr char kOrderRules[] = R"(
defaults: {queue: general, priority: normal, sla_policy: default}
rules:
  - name: dm
    when: {kind: direct_message}
    then: {sla_policy: dm-1h, tags: [dm], continue: true}
  - name: vip
    when: {followers_min: 1000}
    then: {priority: high, tags: [vip, dm], continue: true}
  - name: thanks
    when: {keywords: [thanks]}
    then: {queue: praise, priority: low, tags: [praise]}
  - name: legal
    when: {keywords: [lawyer]}
    then: {queue: escalation, priority: urgent, tags: [legal]}
  - name: later
    when: {keywords: [lawyer]}
    then: {queue: never}
)";

TEST(RuleOrderTest, DefaultsWhenNothingMatches) {
  auto rules = MustParse(kOrderRules);
  const RoutingDecision d = rules->Decide(Message("hello there"));
  EXPECT_EQ(d.queue(), "general");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_NORMAL);
  EXPECT_EQ(d.sla_policy(), "default");
  EXPECT_FALSE(d.ignore());
  EXPECT_THAT(d.tags(), IsEmpty());
  EXPECT_THAT(d.rules(), IsEmpty());
}

TEST(RuleOrderTest, DefaultsWithoutDefaultsSection) {
  auto rules = MustParse("rules: []\n");
  const RoutingDecision d = rules->Decide(Message("hello"));
  EXPECT_EQ(d.queue(), "general");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_NORMAL);
  EXPECT_EQ(d.sla_policy(), "default");
  EXPECT_EQ(rules->rule_count(), 0u);
}

TEST(RuleOrderTest, FirstMatchWithoutContinueEndsEvaluation) {
  auto rules = MustParse(kOrderRules);
  const RoutingDecision d = rules->Decide(Message("thanks, but my lawyer will call"));
  EXPECT_EQ(d.queue(), "praise");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_LOW);
  EXPECT_THAT(d.rules(), ElementsAre("thanks"));
}

TEST(RuleOrderTest, ContinueAccumulatesTagsKeepsHighestPriorityAndLastQueue) {
  auto rules = MustParse(kOrderRules);
  Event e = Message("my lawyer will call");
  e.set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
  e.mutable_author()->set_follower_count(5000);
  RoutingDecision d = rules->Decide(e);
  EXPECT_THAT(d.rules(), ElementsAre("dm", "vip", "legal"));
  EXPECT_EQ(d.queue(), "escalation");
  EXPECT_EQ(d.sla_policy(), "dm-1h");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_URGENT);
  EXPECT_THAT(d.tags(), ElementsAre("dm", "vip", "legal"));  // deduplicated, in order

  // A later rule's lower priority does not undo an earlier rule's higher one.
  e.set_text("thanks a lot");
  d = rules->Decide(e);
  EXPECT_THAT(d.rules(), ElementsAre("dm", "vip", "thanks"));
  EXPECT_EQ(d.queue(), "praise");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_HIGH);
  EXPECT_THAT(d.tags(), ElementsAre("dm", "vip", "praise"));
}

TEST(RuleOrderTest, LowerPriorityThanDefaultIsPossible) {
  auto rules = MustParse(kOrderRules);
  EXPECT_EQ(rules->Decide(Message("thanks")).priority(), earshot::v1::PRIORITY_LOW);
}

TEST(RuleOrderTest, IgnoreMarksTheDecisionAndStops) {
  auto rules = MustParse(R"(
rules:
  - name: own
    when: {direction: outbound}
    then: {ignore: true}
  - name: all
    then: {queue: everything}
)");
  Event e = Message("We are sorry, please DM us.");
  e.set_direction(earshot::v1::DIRECTION_OUTBOUND);
  RoutingDecision d = rules->Decide(e);
  EXPECT_TRUE(d.ignore());
  EXPECT_THAT(d.rules(), ElementsAre("own"));
  EXPECT_EQ(d.queue(), "general");
  d = rules->Decide(Message("hello"));
  EXPECT_FALSE(d.ignore());
  EXPECT_EQ(d.queue(), "everything");
}

TEST(RuleOrderTest, DecisionAlwaysCarriesSignals) {
  auto rules = MustParse("rules: []\n");
  RoutingDecision d = rules->Decide(Message("Is this jacket still available in size M?"));
  EXPECT_TRUE(d.is_question());
  EXPECT_FALSE(d.is_complaint());
  EXPECT_EQ(d.lang(), "en");
}

TEST(DefaultRuleSetTest, GeneralQueueAndOwnMessagesIgnored) {
  auto rules = RuleSet::Default();
  ASSERT_NE(rules, nullptr);
  EXPECT_EQ(rules->rule_count(), 1u);
  RoutingDecision d = rules->Decide(Message("Where is my parcel?"));
  EXPECT_EQ(d.queue(), "general");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_NORMAL);
  EXPECT_EQ(d.sla_policy(), "default");
  EXPECT_FALSE(d.ignore());
  Event own = Message("Sorry to hear that, we will check.");
  own.set_direction(earshot::v1::DIRECTION_OUTBOUND);
  EXPECT_TRUE(rules->Decide(own).ignore());
}

// ---- Text signals, as the decision shows them ----------------------------------------------

class SignalTest : public ::testing::Test {
 protected:
  RoutingDecision Decide(const std::string& text, const std::string& lang = "") {
    Event e = Message(text);
    e.set_lang(lang);
    return rules_->Decide(e);
  }
  std::unique_ptr<RuleSet> rules_ = RuleSet::Default();
};

TEST_F(SignalTest, DetectsGermanAndEnglishSentences) {
  EXPECT_EQ(Decide("Ich habe letzte Woche eine Jacke bestellt und sie ist leider immer noch nicht "
                   "bei mir angekommen.")
                .lang(),
            "de");
  EXPECT_EQ(Decide("I ordered a jacket last week and unfortunately it still has not arrived at "
                   "my house.")
                .lang(),
            "en");
  // Mentions and links do not make a German text English.
  EXPECT_EQ(Decide("@acme_shop @acme_help Wann wird meine Bestellung endlich verschickt? "
                   "https://acme.example/orders/123")
                .lang(),
            "de");
}

TEST_F(SignalTest, UnreliableOrEmptyTextHasNoLanguage) {
  EXPECT_EQ(Decide("").lang(), "");
  EXPECT_EQ(Decide("👍").lang(), "");
}

TEST_F(SignalTest, PlatformLanguageWins) {
  EXPECT_EQ(Decide("Ich habe letzte Woche eine Jacke bestellt.", "en").lang(), "en");
}

TEST_F(SignalTest, QuestionsInEnglish) {
  EXPECT_TRUE(Decide("Where is my parcel?").is_question());
  EXPECT_TRUE(Decide("@acme how long does shipping to Austria take").is_question());
  EXPECT_TRUE(Decide("Can you help me with my order").is_question());
  EXPECT_TRUE(Decide("Anyone know if the store in Berlin is open on Sunday").is_question());
  EXPECT_FALSE(Decide("Thanks for the quick delivery, love it").is_question());
  EXPECT_FALSE(Decide("I ordered two jackets").is_question());
  // "Was" opens German questions but not English statements.
  EXPECT_FALSE(Decide("Was great, thanks a lot", "en").is_question());
}

TEST_F(SignalTest, QuestionsInGerman) {
  EXPECT_TRUE(Decide("Wie lange dauert der Versand nach Österreich").is_question());
  EXPECT_TRUE(Decide("@acme_de Gibt es die Jacke auch in Blau").is_question());
  EXPECT_TRUE(Decide("Könnt ihr mir bitte helfen").is_question());
  EXPECT_TRUE(Decide("Welche Größe empfehlt ihr").is_question());
  EXPECT_TRUE(Decide("Was kostet der Versand", "de").is_question());
  EXPECT_TRUE(Decide("Hat jemand Erfahrung mit der Jacke？").is_question());
  EXPECT_FALSE(Decide("Vielen Dank, alles super angekommen").is_question());
  EXPECT_FALSE(Decide("Ich habe zwei Jacken bestellt").is_question());
}

TEST_F(SignalTest, ComplaintsInEnglish) {
  EXPECT_TRUE(Decide("The zipper is broken after two days").is_complaint());
  EXPECT_TRUE(Decide("I want a REFUND now").is_complaint());
  EXPECT_TRUE(Decide("Still waiting for my parcel, never again").is_complaint());
  EXPECT_TRUE(Decide("Really disappointed with the quality").is_complaint());
  EXPECT_FALSE(Decide("Love the new collection!").is_complaint());
}

TEST_F(SignalTest, ComplaintsInGerman) {
  EXPECT_TRUE(Decide("Die Jacke kam kaputt an").is_complaint());
  EXPECT_TRUE(Decide("Ich bin total enttäuscht von eurem Service").is_complaint());
  EXPECT_TRUE(Decide("Ich warte immer noch auf meine Rückerstattung").is_complaint());
  EXPECT_TRUE(Decide("Das ist eine Frechheit, keine Antwort seit Tagen").is_complaint());
  EXPECT_TRUE(Decide("Die Lieferung war beschaedigt").is_complaint());  // without umlauts
  EXPECT_FALSE(Decide("Alles super, vielen Dank").is_complaint());
}

TEST(ComplaintLexiconTest, FileExtendsBuiltinWords) {
  auto rules = MustParse(R"(
lexicon:
  complaint: [paket fehlt, falsche farbe]
rules:
  - name: hit
    when: {keywords: ['@complaint']}
    then: {queue: hit}
)");
  EXPECT_TRUE(rules->Decide(Message("Paket fehlt!")).is_complaint());
  EXPECT_TRUE(rules->Decide(Message("falsche Farbe geliefert")).is_complaint());
  EXPECT_TRUE(rules->Decide(Message("kaputt")).is_complaint());  // built-ins still there
  // @complaint in keywords means the same list.
  EXPECT_TRUE(Hits(*rules, Message("Paket fehlt!")));
  EXPECT_TRUE(Hits(*rules, Message("it is broken")));
  EXPECT_FALSE(Hits(*rules, Message("alles gut")));
}

// ---- Rule file errors: line and reason -----------------------------------------------------

TEST(RuleFileErrorTest, YamlSyntaxError) {
  EXPECT_THAT(ErrorOf("rules:\n  - name: a\n    when: {kind: [comment}\n"),
              StartsWith("rules.yaml:3: invalid YAML"));
}

TEST(RuleFileErrorTest, UnknownTopLevelKey) {
  EXPECT_EQ(ErrorOf("defaults: {queue: a}\nrule: []\n"),
            "rules.yaml:2: unknown top-level key \"rule\" (expected defaults, lexicon, rules)");
}

TEST(RuleFileErrorTest, UnknownConditionNamesRuleAndLine) {
  EXPECT_THAT(ErrorOf(R"(rules:
  - name: ok
    when: {kind: comment}
  - name: influencers
    when:
      folowers_min: 10000
    then: {priority: high}
)"),
              StartsWith("rules.yaml:6: rule \"influencers\": unknown condition \"folowers_min\""));
}

TEST(RuleFileErrorTest, UnknownAction) {
  EXPECT_THAT(ErrorOf("rules:\n  - name: a\n    then:\n      queue: x\n      prio: high\n"),
              StartsWith("rules.yaml:5: rule \"a\": unknown action \"prio\""));
}

TEST(RuleFileErrorTest, WrongTypes) {
  EXPECT_THAT(ErrorOf("rules:\n  - name: a\n    when: {followers_min: lots}\n"),
              StartsWith("rules.yaml:3: rule \"a\": condition \"followers_min\": expected a whole "
                         "number >= 0, got \"lots\""));
  EXPECT_THAT(ErrorOf("rules:\n  - name: a\n    then:\n      ignore: maybe\n"),
              StartsWith("rules.yaml:4: rule \"a\": action \"ignore\": expected true or false"));
  EXPECT_THAT(ErrorOf("rules:\n  - name: a\n    then:\n      tags: {a: b}\n"),
              StartsWith("rules.yaml:4: rule \"a\": action \"tags\": expected a string or a list"));
  EXPECT_THAT(ErrorOf("rules:\n  - name: a\n    when: [kind, comment]\n"),
              StartsWith("rules.yaml:3: rule \"a\": conditions must be a map"));
  EXPECT_THAT(ErrorOf("rules: {name: a}\n"), StartsWith("rules.yaml:1: rules: expected a list"));
  // An empty value is blamed on its key's line.
  EXPECT_EQ(ErrorOf("rules:\n  - name: a\n    then:\n      queue:\n"),
            "rules.yaml:4: rule \"a\": action \"queue\": expected a string, got nothing");
  EXPECT_THAT(ErrorOf("rules:\n  - name: a\n    when:\n      attribute: rating\n"),
              StartsWith("rules.yaml:4: rule \"a\": condition \"attribute\": expected a map"));
}

TEST(RuleFileErrorTest, UnknownEnumValues) {
  EXPECT_THAT(ErrorOf("defaults:\n  priority: critical\n"),
              StartsWith("rules.yaml:2: unknown priority \"critical\" (expected one of low, "
                         "normal, high, urgent)"));
  EXPECT_THAT(ErrorOf("rules:\n  - name: a\n    then: {priority: asap}\n"),
              StartsWith("rules.yaml:3: rule \"a\": unknown priority \"asap\""));
  EXPECT_THAT(ErrorOf("rules:\n  - name: a\n    when:\n      kind: [comment, dm]\n"),
              StartsWith("rules.yaml:4: rule \"a\": unknown kind \"dm\""));
  EXPECT_THAT(ErrorOf("rules:\n  - name: a\n    when: {platform: tiktok}\n"),
              StartsWith("rules.yaml:3: rule \"a\": unknown platform \"tiktok\" (expected one of "
                         "x, facebook, instagram, messenger, whatsapp, telegram, generic)"));
  EXPECT_THAT(ErrorOf("rules:\n  - name: a\n    when: {direction: incoming}\n"),
              StartsWith("rules.yaml:3: rule \"a\": unknown direction \"incoming\""));
}

TEST(RuleFileErrorTest, BadRegexCarriesRe2Reason) {
  EXPECT_THAT(ErrorOf("rules:\n  - name: a\n    when:\n      regex: 'k(ü|ue'\n"),
              StartsWith("rules.yaml:4: rule \"a\": bad regex \"k(ü|ue\": missing )"));
  EXPECT_THAT(ErrorOf("rules:\n  - name: a\n    when:\n      attribute: {x: {regex: '[a-'}}\n"),
              StartsWith("rules.yaml:4: rule \"a\": bad regex \"[a-\": missing ]"));
}

TEST(RuleFileErrorTest, DuplicateAndMissingRuleNames) {
  EXPECT_EQ(ErrorOf("rules:\n  - name: a\n  - name: b\n  - name: a\n"),
            "rules.yaml:4: duplicate rule name \"a\" (first used on line 2)");
  EXPECT_EQ(ErrorOf("rules:\n  - name: a\n  - when: {kind: comment}\n    then: {queue: x}\n"),
            "rules.yaml:3: rule #2 has no name");
}

TEST(RuleFileErrorTest, UnknownLexiconReference) {
  EXPECT_EQ(ErrorOf("lexicon:\n  buy: [kaufen]\nrules:\n  - name: a\n    when:\n"
                    "      keywords: [preis, '@sell']\n"),
            "rules.yaml:6: rule \"a\": condition \"keywords\": unknown lexicon \"@sell\"");
}

TEST(RuleFileErrorTest, EmptyAny) {
  EXPECT_EQ(ErrorOf("rules:\n  - name: a\n    when:\n      any: []\n"),
            "rules.yaml:4: rule \"a\": \"any\": the list of conditions is empty");
}

TEST(RuleFileErrorTest, NestedErrorsKeepTheirLine) {
  EXPECT_THAT(ErrorOf(R"(rules:
  - name: nested
    when:
      any:
        - kind: comment
        - not:
            platform: myspace
)"),
              StartsWith("rules.yaml:7: rule \"nested\": unknown platform \"myspace\""));
}

TEST(RuleFileErrorTest, ReportsEveryErrorAtOnce) {
  const std::string error = ErrorOf(R"(defaults:
  queue: ""
rules:
  - name: a
    when: {kind: tweet}
  - name: b
    then: {queue: x, colour: red}
)");
  EXPECT_THAT(error, HasSubstr("rules.yaml:2: default \"queue\": must not be empty"));
  EXPECT_THAT(error, HasSubstr("rules.yaml:5: rule \"a\": unknown kind \"tweet\""));
  EXPECT_THAT(error, HasSubstr("rules.yaml:7: rule \"b\": unknown action \"colour\""));
}

TEST(RuleFileErrorTest, EmptyFileAndMissingFile) {
  EXPECT_THAT(ErrorOf(""), StartsWith("rules.yaml:1: the rule file is empty"));
  auto missing = RuleSet::LoadFile("/nonexistent/rules.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/rules.yaml"));
}

// ---- The shipped example rule set ----------------------------------------------------------

class ExampleRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rules = RuleSet::LoadFile(kExampleRules);
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_ = *std::move(rules);
  }

  RoutingDecision Decide(const Event& e) { return rules_->Decide(e); }

  static Event Comment(std::string text) {
    Event e = Message(std::move(text));
    e.set_platform(earshot::v1::PLATFORM_INSTAGRAM);
    e.set_kind(earshot::v1::KIND_COMMENT);
    return e;
  }
  static Event Dm(std::string text) {
    Event e = Message(std::move(text));
    e.set_platform(earshot::v1::PLATFORM_MESSENGER);
    e.set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
    return e;
  }

  std::unique_ptr<RuleSet> rules_;
};

TEST_F(ExampleRulesTest, BrandRepliesBotsReactionsAndSpamAreIgnored) {
  Event own = Comment("Das tut uns leid! Schreib uns bitte eine DM mit deiner Bestellnummer.");
  own.set_direction(earshot::v1::DIRECTION_OUTBOUND);
  EXPECT_TRUE(Decide(own).ignore());

  Event bot = Dm("Your daily price alert: 3 items on your wishlist are cheaper now.");
  bot.mutable_author()->set_is_bot(true);
  RoutingDecision d = Decide(bot);
  EXPECT_TRUE(d.ignore());
  EXPECT_THAT(d.tags(), ElementsAre("bot"));

  Event like = Comment("");
  like.set_kind(earshot::v1::KIND_REACTION);
  EXPECT_TRUE(Decide(like).ignore());

  d = Decide(Comment("🔥 Get 10k FREE FOLLOWERS now, check my bio!"));
  EXPECT_TRUE(d.ignore());
  EXPECT_THAT(d.tags(), ElementsAre("spam"));
}

TEST_F(ExampleRulesTest, LegalAndCancellationAreUrgentEscalations) {
  RoutingDecision d =
      Decide(Comment("Wenn das Geld nicht bis Freitag zurück ist, schalte ich meinen Anwalt ein."));
  EXPECT_FALSE(d.ignore());
  EXPECT_EQ(d.queue(), "escalation");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_URGENT);
  EXPECT_THAT(d.tags(), ElementsAre("legal"));

  d = Decide(Dm("Ich möchte mein Kundenkonto kündigen, bitte bestätigen Sie mir das schriftlich."));
  EXPECT_EQ(d.queue(), "escalation");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_URGENT);
  EXPECT_EQ(d.sla_policy(), "escalation");  // the 24/7 escalation policy, even for a DM
  EXPECT_THAT(d.tags(), ElementsAre("cancellation"));

  d = Decide(Dm("Please cancel my order 55123, I found it cheaper elsewhere."));
  EXPECT_EQ(d.queue(), "escalation");
  EXPECT_THAT(d.tags(), ElementsAre("cancellation"));

  // "ankündigen" (announce) is not "kündigen".
  d = Decide(Comment("Wann wollt ihr die neue Kollektion ankündigen?"));
  EXPECT_NE(d.queue(), "escalation");
}

TEST_F(ExampleRulesTest, ComplaintsGoToEscalationWithHighPriority) {
  RoutingDecision d =
      Decide(Comment("The zipper broke after two days, really disappointed with the quality."));
  EXPECT_EQ(d.queue(), "escalation");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_HIGH);
  EXPECT_EQ(d.sla_policy(), "escalation");
  EXPECT_TRUE(d.is_complaint());
  EXPECT_THAT(d.tags(), ElementsAre("complaint"));

  d =
      Decide(Dm("Meine Lieferung kam beschädigt an und auf meine Mail gab es keine Antwort. "
                "Bestellung AC-2024117."));
  EXPECT_EQ(d.queue(), "escalation");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_HIGH);
  EXPECT_EQ(d.sla_policy(), "escalation");
  EXPECT_EQ(d.lang(), "de");
  EXPECT_THAT(d.tags(), ElementsAre("order-number", "complaint"));
}

TEST_F(ExampleRulesTest, PurchaseIntentGoesToSales) {
  RoutingDecision d = Decide(Comment(
      "@acme_de Ist die Regenjacke in Größe M noch lieferbar? Ich würde sie gern bestellen."));
  EXPECT_EQ(d.queue(), "sales");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_HIGH);
  EXPECT_EQ(d.lang(), "de");
  EXPECT_THAT(d.tags(), ElementsAre("sales"));

  d = Decide(Dm("Hi! How much is the leather backpack and do you ship it to Austria?"));
  EXPECT_EQ(d.queue(), "sales");
  EXPECT_EQ(d.sla_policy(), "dm");
}

TEST_F(ExampleRulesTest, QuestionsStayWithTheirLanguageDeskWithHighPriority) {
  RoutingDecision d =
      Decide(Dm("Wann kommt meine Bestellung an? Ich habe sie letzten Montag aufgegeben."));
  EXPECT_EQ(d.queue(), "care-de");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_HIGH);
  EXPECT_EQ(d.sla_policy(), "dm");
  EXPECT_THAT(d.tags(), ElementsAre("question"));
  EXPECT_THAT(d.rules(), ElementsAre("direct-messages", "german", "questions"));

  d = Decide(Comment("What time does the Hamburg store open on Saturdays?"));
  EXPECT_EQ(d.queue(), "care-en");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_HIGH);
  EXPECT_EQ(d.sla_policy(), "public");
}

TEST_F(ExampleRulesTest, InfluencersAreFlaggedAndRaised) {
  Event e = Comment(
      "Just unboxed my new Acme sneakers and they look amazing, full review "
      "coming on my channel tomorrow!");
  e.mutable_author()->set_follower_count(250000);
  RoutingDecision d = Decide(e);
  EXPECT_EQ(d.queue(), "care-en");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_HIGH);
  EXPECT_THAT(d.tags(), ElementsAre("influencer"));

  // An influencer's complaint is escalated and still flagged.
  e.set_text("Ordered three times, three times the parcel arrived damaged. Never again.");
  d = Decide(e);
  EXPECT_EQ(d.queue(), "escalation");
  EXPECT_THAT(d.tags(), ElementsAre("influencer", "complaint"));
}

TEST_F(ExampleRulesTest, EverythingElseGoesToTheLanguageDesk) {
  RoutingDecision d =
      Decide(Dm("Vielen Dank für die schnelle Lieferung, die Schuhe passen perfekt!"));
  EXPECT_EQ(d.queue(), "care-de");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_NORMAL);
  EXPECT_EQ(d.sla_policy(), "dm");
  EXPECT_FALSE(d.ignore());
  EXPECT_THAT(d.tags(), IsEmpty());

  d = Decide(Comment("Love the new autumn collection, the colours are beautiful."));
  EXPECT_EQ(d.queue(), "care-en");
  EXPECT_EQ(d.priority(), earshot::v1::PRIORITY_NORMAL);
  EXPECT_EQ(d.sla_policy(), "public");

  // Too short to tell: the German desk, Acme's default.
  d = Decide(Comment("👍👍"));
  EXPECT_EQ(d.queue(), "care-de");
}

}  // namespace
}  // namespace earshot::router
