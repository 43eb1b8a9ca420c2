#include "services/router/thread_state.h"

#include <algorithm>

#include "services/common/base/proto_time.h"

namespace earshot::router {
namespace {

using earshot::v1::Event;
using earshot::v1::Thread;

// The first `chars` code points of `text`, whole UTF-8 sequences only.
std::string Excerpt(const std::string& text, int chars) {
  size_t i = 0;
  int n = 0;
  while (i < text.size() && n < chars) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    i += c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : 4;
    ++n;
  }
  return i >= text.size() ? text : text.substr(0, i) + "…";
}

void ClearWait(Thread* t) {
  t->clear_oldest_unanswered();
  t->set_unanswered_count(0);
  t->clear_unanswered();
}

void RecomputeOldest(Thread* t) {
  t->clear_oldest_unanswered();
  for (const auto& p : t->unanswered()) {
    if (!t->has_oldest_unanswered() ||
        FromProtoTime(p.at()) < FromProtoTime(t->oldest_unanswered())) {
      *t->mutable_oldest_unanswered() = p.at();
    }
  }
}

void MergeTags(const earshot::v1::RoutingDecision& d, Thread* t) {
  for (const auto& tag : d.tags()) {
    if (std::find(t->tags().begin(), t->tags().end(), tag) == t->tags().end()) t->add_tags(tag);
  }
}

bool AnswersThread(const Event& e) {
  if (e.direction() != earshot::v1::DIRECTION_OUTBOUND) return false;
  if (e.kind() == earshot::v1::KIND_STATUS) {
    auto it = e.attributes().find("status");
    return it == e.attributes().end() || it->second != "failed";
  }
  return IsMessage(e);
}

}  // namespace

absl::Time EventTime(const Event& event) {
  if (event.has_created_at()) return FromProtoTime(event.created_at());
  return FromProtoTime(event.received_at());
}

void ApplyEvent(const Event& e, const earshot::v1::RoutingDecision& d, const ThreadLimits& limits,
                Thread* t) {
  const absl::Time at = EventTime(e);
  if (t->thread_key().empty()) {
    t->set_thread_key(e.thread_key());
    t->set_platform(e.platform());
    t->set_account_id(e.account_id());
    SetProtoTime(at, t->mutable_first_seen());
    t->set_status(earshot::v1::THREAD_STATUS_ANSWERED);  // nothing waits yet
  }
  t->set_last_event_id(e.event_id());
  if (!t->has_updated_at() || at > FromProtoTime(t->updated_at()))
    SetProtoTime(at, t->mutable_updated_at());
  if (e.has_received_at() && (!t->has_last_received() ||
                              FromProtoTime(e.received_at()) > FromProtoTime(t->last_received())))
    *t->mutable_last_received() = e.received_at();

  if (e.kind() == earshot::v1::KIND_CONTROL) {
    if (e.control().action() == earshot::v1::Control::ACTION_RESOLVE) {
      ClearWait(t);
      t->set_status(earshot::v1::THREAD_STATUS_RESOLVED);
      t->set_resolve_reason(e.control().reason().empty() ? "resolved" : e.control().reason());
    }
    return;
  }

  if (AnswersThread(e)) {
    if (IsMessage(e)) t->set_message_count(t->message_count() + 1);
    SetProtoTime(at, t->mutable_last_outbound());
    ClearWait(t);
    t->set_status(earshot::v1::THREAD_STATUS_ANSWERED);
    t->clear_resolve_reason();
    return;
  }
  if (e.direction() != earshot::v1::DIRECTION_INBOUND) return;  // brand edits, likes, failures

  if (e.kind() == earshot::v1::KIND_DELETE) {
    auto* pending = t->mutable_unanswered();
    auto it = std::find_if(pending->begin(), pending->end(),
                           [&](const auto& p) { return p.message_id() == e.message_id(); });
    if (it == pending->end()) return;
    pending->erase(it);
    t->set_unanswered_count(std::max(0, t->unanswered_count() - 1));
    if (t->unanswered_count() == 0) {
      ClearWait(t);
      t->set_status(earshot::v1::THREAD_STATUS_RESOLVED);
      t->set_resolve_reason("customer deleted the unanswered message");
    } else {
      RecomputeOldest(t);
    }
    return;
  }
  if (!IsMessage(e)) return;  // edits and reactions change no clock

  t->set_message_count(t->message_count() + 1);
  SetProtoTime(at, t->mutable_last_inbound());
  if (!e.author().id().empty() && t->participants_size() < limits.max_participants &&
      std::find(t->participants().begin(), t->participants().end(), e.author().id()) ==
          t->participants().end()) {
    t->add_participants(e.author().id());
  }
  t->set_excerpt(Excerpt(e.text(), limits.excerpt_chars));
  if (!e.permalink().empty()) t->set_permalink(e.permalink());
  if (!d.lang().empty()) t->set_lang(d.lang());

  if (d.ignore()) {
    // Tracked, but nobody is expected to answer it.
    if (t->status() != earshot::v1::THREAD_STATUS_AWAITING_REPLY) {
      t->set_ignored(true);
      if (t->queue().empty()) t->set_queue(d.queue());
    }
    return;
  }
  const bool new_wait = t->status() != earshot::v1::THREAD_STATUS_AWAITING_REPLY;
  if (new_wait) {
    ClearWait(t);
    t->set_priority(d.priority());
    t->clear_tags();
    t->set_ignored(false);
    t->clear_resolve_reason();
    SetProtoTime(at, t->mutable_oldest_unanswered());
  } else {
    t->set_priority(std::max(t->priority(), d.priority()));
    if (at < FromProtoTime(t->oldest_unanswered()))
      SetProtoTime(at, t->mutable_oldest_unanswered());
  }
  t->set_status(earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  t->set_unanswered_count(t->unanswered_count() + 1);
  if (t->unanswered_size() < limits.max_pending) {
    auto* p = t->add_unanswered();
    p->set_message_id(e.message_id());
    SetProtoTime(at, p->mutable_at());
  }
  t->set_queue(d.queue());
  t->set_sla_policy(d.sla_policy());
  MergeTags(d, t);
}

}  // namespace earshot::router
