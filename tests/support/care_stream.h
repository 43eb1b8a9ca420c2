#pragma once
// The input of the scale-out and crash tests: a deterministic stream of customer care for one
// brand on every platform (X mentions and DMs, Facebook and Instagram comments, Messenger,
// WhatsApp, Telegram), with brand answers, edits, deletes, resolves and platform redeliveries,
// as the gateway normalises them. The same seed gives the same stream.
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "earshot/v1/event.pb.h"
#include "fmt/format.h"
#include "google/protobuf/timestamp.pb.h"

namespace earshot::testing {

using earshot::v1::Event;
using earshot::v1::Platform;

inline absl::Time FromTs(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

inline void SetTs(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t s = absl::ToUnixSeconds(t);
  ts->set_seconds(s);
  ts->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(s)) / absl::Nanoseconds(1)));
}

// ---------------------------------------------------------------------------------------------
// The input: a deterministic day of customer care for one brand on several platforms.

struct Stream {
  std::vector<Event> records;  // in produce order, redeliveries included
  std::set<std::string> ids;   // distinct event ids
  std::map<std::string, int> counts;
  int threads = 0;
};

class StreamGenerator {
 public:
  // `start`: the receive time of the first record; `max_gap`: the longest time between two
  // records (uniform from zero), so the stream spans about max_gap / 2 per record.
  // `id_base` sets apart the customers and native message ids of different generators.
  explicit StreamGenerator(uint64_t seed,
                           absl::Time start = absl::FromUnixSeconds(1740988800),  // 2025-03-03
                           absl::Duration max_gap = absl::Milliseconds(1800), int64_t id_base = 0)
      : rng_(seed),
        now_(start),
        max_gap_ms_(absl::ToInt64Milliseconds(max_gap)),
        customers_(id_base),
        native_(id_base) {}

  // `new_thread_share`: how often a record starts a new conversation (until thread_count).
  Stream Generate(size_t min_records, int thread_count, double new_thread_share = 0.065) {
    Stream out;
    // Redeliveries wait here for their place in the stream (an index into out.records).
    std::multimap<size_t, Event> later;
    auto emit = [&](Event e) {
      out.ids.insert(e.event_id());
      if (Chance(0.05)) {
        Event again = e;
        SetTs(FromTs(e.received_at()) + absl::Milliseconds(Uniform(1000, 5000)),
              again.mutable_received_at());
        later.emplace(out.records.size() + static_cast<size_t>(Uniform(1, 400)), std::move(again));
      }
      out.records.push_back(std::move(e));
    };
    while (out.records.size() < min_records) {
      for (auto it = later.begin(); it != later.end() && it->first <= out.records.size();) {
        out.records.push_back(std::move(it->second));
        ++out.counts["redelivery"];
        it = later.erase(it);
      }
      now_ += absl::Milliseconds(Uniform(0, max_gap_ms_));
      const bool create = static_cast<int>(threads_.size()) < thread_count &&
                          (threads_.size() < 50 || Chance(new_thread_share));
      if (create) {
        threads_.push_back(NewThread());
        ++out.counts[PlatformLabel(threads_.back())];
        emit(CustomerMessage(threads_.back(), out));
        continue;
      }
      SimThread& t =
          threads_[static_cast<size_t>(Uniform(0, static_cast<int64_t>(threads_.size()) - 1))];
      const double r = Uniform01();
      if (!t.pending.empty()) {
        if (r < 0.40) {
          emit(BrandMessage(t, out));
        } else if (r < 0.70) {
          emit(CustomerMessage(t, out));
        } else if (r < 0.82) {
          emit(Edit(t, out));
        } else if (r < 0.90) {
          emit(Delete(t, out));
        } else if (r < 0.905) {
          emit(Resolve(t, out));
        } else {
          emit(CustomerMessage(t, out));
        }
      } else if (r < 0.80 || t.sent.empty()) {
        emit(CustomerMessage(t, out));
      } else if (r < 0.93) {
        emit(Edit(t, out));
      } else {
        emit(BrandMessage(t, out));
      }
    }
    for (auto& [_, e] : later) {
      out.records.push_back(std::move(e));
      ++out.counts["redelivery"];
    }
    out.threads = static_cast<int>(threads_.size());
    return out;
  }

 private:
  enum class Style { kXPublic, kXDm, kFacebook, kInstagram, kMessenger, kWhatsApp, kTelegram };

  struct Sent {
    std::string message_id;
    std::string event_id;
  };
  struct SimThread {
    Style style;
    Platform platform;
    std::string account;
    std::string key;
    std::string customer;  // author id
    std::string handle;
    std::string name;
    std::string root;  // comment threads: the top-level comment's id
    bool german = false;
    std::vector<Sent> pending;  // unanswered customer messages
    std::vector<Sent> sent;     // customer messages that still exist (edits refer to them)
    int64_t next_message = 1;   // Telegram message ids count per chat
    int message_count = 0;
    int edits = 0;
  };

  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  double Uniform01() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  bool Chance(double p) { return Uniform01() < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Uniform(0, static_cast<int64_t>(v.size()) - 1))];
  }

  static std::string PlatformLabel(const SimThread& t) {
    switch (t.style) {
      case Style::kXPublic:
        return "x";
      case Style::kXDm:
        return "x_dm";
      case Style::kFacebook:
        return "facebook";
      case Style::kInstagram:
        return "instagram";
      case Style::kMessenger:
        return "messenger";
      case Style::kWhatsApp:
        return "whatsapp";
      case Style::kTelegram:
        return "telegram";
    }
    return "?";
  }

  SimThread NewThread() {
    static const std::vector<std::string> names = {
        "Anna",   "Ben",   "Clara", "David", "Emma",   "Felix", "Greta",  "Hannah", "Jonas",
        "Katrin", "Lukas", "Mia",   "Noah",  "Olivia", "Paul",  "Sophie", "Tom",    "Zoe"};
    SimThread t;
    const double r = Uniform01();
    t.style = r < 0.25   ? Style::kXPublic
              : r < 0.33 ? Style::kXDm
              : r < 0.53 ? Style::kFacebook
              : r < 0.63 ? Style::kInstagram
              : r < 0.75 ? Style::kMessenger
              : r < 0.93 ? Style::kWhatsApp
                         : Style::kTelegram;
    t.german = Chance(0.6);
    t.name = Pick(names);
    const int64_t n = ++customers_;
    t.handle = fmt::format("{}_{}", t.name, n);
    switch (t.style) {
      case Style::kXPublic:
      case Style::kXDm:
        t.platform = earshot::v1::PLATFORM_X;
        t.account = Chance(0.7) ? "1460000000000000001" : "1460000000000000002";  // two brands
        t.customer = std::to_string(2000000000 + n);
        t.key =
            fmt::format("x:{}:{}:{}", t.account, t.style == Style::kXDm ? "dm" : "u", t.customer);
        break;
      case Style::kFacebook:
        t.platform = earshot::v1::PLATFORM_FACEBOOK;
        t.account = "105550000000001";
        t.customer = std::to_string(6100000000000LL + n);
        t.root = NextFacebookCommentId();
        t.key = fmt::format("fb:{}:c:{}", t.account, t.root);
        break;
      case Style::kInstagram:
        t.platform = earshot::v1::PLATFORM_INSTAGRAM;
        t.account = "17841400000000001";
        t.customer = std::to_string(17841500000000000LL + n);
        t.root = std::to_string(17900000000000000LL + ++native_);
        t.key = fmt::format("fb:{}:c:{}", t.account, t.root);
        break;
      case Style::kMessenger:
        t.platform = earshot::v1::PLATFORM_MESSENGER;
        t.account = "105550000000001";
        t.customer = std::to_string(7300000000000000LL + n);
        t.key = fmt::format("fbm:{}:{}", t.account, t.customer);
        break;
      case Style::kWhatsApp:
        t.platform = earshot::v1::PLATFORM_WHATSAPP;
        t.account = "410000000000222";
        t.customer = std::to_string(4915100000000LL + n);
        t.key = fmt::format("wa:{}:{}", t.account, t.customer);
        break;
      case Style::kTelegram:
        t.platform = earshot::v1::PLATFORM_TELEGRAM;
        t.account = "7000000001";
        t.customer = std::to_string(500000000 + n);
        t.key = fmt::format("tg:{}:{}", t.account, t.customer);
        break;
    }
    return t;
  }

  std::string NextFacebookCommentId() {
    return fmt::format("901234567890123_{}", 1122330000000000LL + ++native_);
  }

  // A new message of the thread: native id, event id, kind.
  void NewMessage(SimThread& t, bool outbound, Event* e) {
    std::string id;
    switch (t.style) {
      case Style::kXPublic:
        id = std::to_string(1890000000000000000LL + ++native_);
        e->set_event_id(fmt::format("x:{}:{}", t.account, id));
        e->set_kind(outbound || !t.sent.empty() ? earshot::v1::KIND_REPLY
                                                : earshot::v1::KIND_MENTION);
        e->set_permalink(fmt::format("https://x.com/{}/status/{}",
                                     outbound ? std::string("acme") : t.handle, id));
        break;
      case Style::kXDm:
        id = std::to_string(1891000000000000000LL + ++native_);
        e->set_event_id(fmt::format("x:{}:dm:{}", t.account, id));
        e->set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
        break;
      case Style::kFacebook:
        id = t.message_count == 0 && !outbound ? t.root : NextFacebookCommentId();
        e->set_event_id("fb:" + id);
        e->set_kind(id == t.root ? earshot::v1::KIND_COMMENT : earshot::v1::KIND_REPLY);
        if (id != t.root) e->set_parent_id(t.root);
        e->set_permalink("https://www.facebook.com/" + id);
        break;
      case Style::kInstagram:
        id = t.message_count == 0 && !outbound ? t.root
                                               : std::to_string(17900000000000000LL + ++native_);
        e->set_event_id("ig:" + id);
        e->set_kind(id == t.root ? earshot::v1::KIND_COMMENT : earshot::v1::KIND_REPLY);
        if (id != t.root) e->set_parent_id(t.root);
        break;
      case Style::kMessenger:
        id = fmt::format("m_{:016x}", 0x5eed000000000000ULL + static_cast<uint64_t>(++native_));
        e->set_event_id("fbm:" + id);
        e->set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
        break;
      case Style::kWhatsApp:
        id = fmt::format("wamid.HBgN{:020d}", ++native_);
        e->set_event_id("wa:" + id);
        e->set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
        break;
      case Style::kTelegram:
        id = std::to_string(t.next_message++);
        e->set_event_id(fmt::format("tg:{}:{}:{}", t.account, t.customer, id));
        e->set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
        break;
    }
    ++t.message_count;
    e->set_message_id(id);
  }

  Event Base(const SimThread& t) {
    Event e;
    e.set_platform(t.platform);
    e.set_account_id(t.account);
    e.set_thread_key(t.key);
    SetTs(now_ - absl::Milliseconds(Uniform(150, 2500)), e.mutable_created_at());
    SetTs(now_, e.mutable_received_at());
    return e;
  }

  void SetCustomer(const SimThread& t, Event* e) {
    e->set_direction(earshot::v1::DIRECTION_INBOUND);
    e->mutable_author()->set_id(t.customer);
    e->mutable_author()->set_handle(t.handle);
    e->mutable_author()->set_display_name(t.name);
    if (t.platform == earshot::v1::PLATFORM_X) {
      e->mutable_author()->set_follower_count(Chance(0.02) ? Uniform(20000, 900000)
                                                           : Uniform(0, 3000));
    }
  }

  std::string CustomerText(const SimThread& t) {
    static const std::vector<std::string> en = {
        "Where is my order {}? It has been {} days.",
        "Is the spring sale also valid in stores?",
        "My parcel {} arrived broken, I want a refund.",
        "Do you have the blue jacket in size M in stock?",
        "How much is shipping to Austria?",
        "Worst service ever, nobody answers my emails about order {}.",
        "Can I still change the delivery address for order {}?",
        "Thanks, that helped a lot!",
        "The app keeps crashing when I pay, can you help?",
        "Wrong size delivered again ({}), what now?",
        "Hello? Still waiting for an answer after {} days.",
    };
    static const std::vector<std::string> de = {
        "Wo bleibt meine Bestellung {}? Seit {} Tagen nichts.",
        "Gilt der Frühjahrsrabatt auch im Laden?",
        "Mein Paket {} kam kaputt an, ich möchte eine Erstattung.",
        "Habt ihr die blaue Jacke in Größe M noch auf Lager?",
        "Wie viel kostet der Versand nach Österreich?",
        "Total enttäuscht, niemand antwortet auf meine Mails zu Bestellung {}.",
        "Kann ich die Lieferadresse für Bestellung {} noch ändern?",
        "Danke, das hat geholfen!",
        "Die App stürzt beim Bezahlen immer ab, könnt ihr helfen?",
        "Schon wieder die falsche Größe geliefert ({}), was nun?",
        "Hallo? Ich warte seit {} Tagen auf eine Antwort.",
    };
    const std::string& tmpl = Pick(t.german ? de : en);
    const int64_t order = Uniform(100000, 999999);  // one draw a statement: a fixed order
    const int64_t days = Uniform(2, 14);
    return fmt::format(fmt::runtime(tmpl), order, days);
  }

  Event CustomerMessage(SimThread& t, Stream& out) {
    Event e = Base(t);
    NewMessage(t, /*outbound=*/false, &e);
    SetCustomer(t, &e);
    e.set_text(CustomerText(t));
    if (Chance(0.3)) e.set_lang(t.german ? "de" : "en");  // some platforms say, most do not
    t.pending.push_back({e.message_id(), e.event_id()});
    t.sent.push_back({e.message_id(), e.event_id()});
    ++out.counts["customer"];
    return e;
  }

  Event BrandMessage(SimThread& t, Stream& out) {
    static const std::vector<std::string> en = {
        "Hi {}, sorry to hear that! Could you send us your order number in a DM?",
        "Hi {}, thanks for asking: yes, it is. Have a great day!",
        "Hi {}, we have passed this on to our logistics team and will get back to you.",
    };
    static const std::vector<std::string> de = {
        "Hallo {}, das tut uns leid! Schick uns bitte deine Bestellnummer per DM.",
        "Hallo {}, danke für die Frage: ja, das gilt. Schönen Tag noch!",
        "Hallo {}, wir haben das an unser Logistik-Team weitergegeben und melden uns.",
    };
    Event e = Base(t);
    NewMessage(t, /*outbound=*/true, &e);
    e.set_direction(earshot::v1::DIRECTION_OUTBOUND);
    e.mutable_author()->set_id(t.account);
    e.mutable_author()->set_handle("acme");
    e.mutable_author()->set_display_name("Acme");
    e.set_text(fmt::format(fmt::runtime(Pick(t.german ? de : en)), t.name));
    t.pending.clear();
    ++out.counts["brand"];
    return e;
  }

  Event Edit(SimThread& t, Stream& out) {
    const Sent& target = Pick(t.sent);
    Event e = Base(t);
    SetCustomer(t, &e);
    e.set_kind(earshot::v1::KIND_EDIT);
    e.set_message_id(target.message_id);
    e.set_event_id(fmt::format("{}:edit:{}", target.event_id, ++t.edits));
    e.set_text(CustomerText(t) + " (edited)");
    ++out.counts["edit"];
    return e;
  }

  // The customer deletes one of its unanswered messages.
  Event Delete(SimThread& t, Stream& out) {
    const size_t i = static_cast<size_t>(Uniform(0, static_cast<int64_t>(t.pending.size()) - 1));
    const Sent target = t.pending[i];
    t.pending.erase(t.pending.begin() + static_cast<std::ptrdiff_t>(i));
    std::erase_if(t.sent, [&](const Sent& s) { return s.message_id == target.message_id; });
    Event e = Base(t);
    SetCustomer(t, &e);
    e.set_kind(earshot::v1::KIND_DELETE);
    e.set_message_id(target.message_id);
    e.set_event_id(target.event_id + ":delete");
    ++out.counts["delete"];
    return e;
  }

  // An agent resolves the thread without replying (earshot.v1.Threads/Resolve publishes this).
  Event Resolve(SimThread& t, Stream& out) {
    Event e = Base(t);
    const uint64_t hi = rng_();
    const uint64_t lo = rng_();
    e.set_event_id(fmt::format("ctl:resolve:{:016x}{:016x}", hi, lo));
    e.set_kind(earshot::v1::KIND_CONTROL);
    e.mutable_control()->set_action(earshot::v1::Control::ACTION_RESOLVE);
    e.mutable_control()->set_reason(Chance(0.5) ? "answered by phone" : "duplicate of a ticket");
    e.mutable_control()->set_actor(fmt::format("agent-{}", Uniform(1, 40)));
    *e.mutable_created_at() = e.received_at();
    t.pending.clear();
    ++out.counts["resolve"];
    return e;
  }

  std::mt19937_64 rng_;
  absl::Time now_;
  int64_t max_gap_ms_;
  std::vector<SimThread> threads_;
  int64_t customers_;
  int64_t native_;
};

}  // namespace earshot::testing
