#pragma once
// Routed events as the router writes them to earshot.routed.v1, for tests that feed the SLA
// monitor or the stream without a router: a customer message that leaves its conversation
// waiting, and the brand's answer to it. Free of GoogleTest.
#include <string>

#include "absl/time/time.h"
#include "earshot/v1/routing.pb.h"
#include "services/common/base/proto_time.h"

namespace earshot::testing {

// What the router writes for a customer message that opens or continues a wait: the event, the
// thread awaiting the brand's reply since `waiting_since`, and the routing decision.
struct Routing {
  std::string queue = "care";
  earshot::v1::Priority priority = earshot::v1::PRIORITY_NORMAL;
  std::string sla_policy;
};
inline earshot::v1::RoutedEvent CustomerMessage(const std::string& thread_key,
                                                const std::string& event_id,
                                                earshot::v1::Platform platform,
                                                const Routing& routing, absl::Time at,
                                                absl::Time waiting_since) {
  earshot::v1::RoutedEvent r;
  earshot::v1::Event& e = *r.mutable_event();
  e.set_event_id(event_id);
  e.set_platform(platform);
  e.set_account_id("brand");
  e.set_thread_key(thread_key);
  e.set_message_id(event_id);
  e.set_direction(earshot::v1::DIRECTION_INBOUND);
  e.set_kind(earshot::v1::KIND_DIRECT_MESSAGE);
  e.mutable_author()->set_id("customer-" + thread_key);
  e.set_text("Where is my order?");
  SetProtoTime(at, e.mutable_created_at());
  SetProtoTime(at, e.mutable_received_at());
  earshot::v1::Thread& t = *r.mutable_thread();
  t.set_thread_key(thread_key);
  t.set_platform(platform);
  t.set_account_id("brand");
  t.set_status(earshot::v1::THREAD_STATUS_AWAITING_REPLY);
  SetProtoTime(waiting_since, t.mutable_first_seen());
  SetProtoTime(at, t.mutable_last_inbound());
  SetProtoTime(waiting_since, t.mutable_oldest_unanswered());
  t.set_unanswered_count(1);
  t.set_queue(routing.queue);
  t.set_priority(routing.priority);
  t.set_sla_policy(routing.sla_policy);
  t.set_message_count(1);
  t.set_last_event_id(event_id);
  t.set_excerpt(e.text());
  SetProtoTime(at, t.mutable_updated_at());
  earshot::v1::RoutingDecision& d = *r.mutable_decision();
  d.set_queue(routing.queue);
  d.set_priority(routing.priority);
  d.set_sla_policy(routing.sla_policy);
  return r;
}

// The brand's answer to the wait of `waiting` (a CustomerMessage), at `at`.
inline earshot::v1::RoutedEvent BrandAnswer(const earshot::v1::RoutedEvent& waiting,
                                            const std::string& event_id, absl::Time at) {
  earshot::v1::RoutedEvent r = waiting;
  earshot::v1::Event& e = *r.mutable_event();
  e.set_event_id(event_id);
  e.set_message_id(event_id);
  e.set_parent_id(waiting.event().message_id());
  e.set_direction(earshot::v1::DIRECTION_OUTBOUND);
  e.mutable_author()->set_id("brand");
  e.set_text("It arrives tomorrow.");
  SetProtoTime(at, e.mutable_created_at());
  SetProtoTime(at, e.mutable_received_at());
  earshot::v1::Thread& t = *r.mutable_thread();
  t.set_status(earshot::v1::THREAD_STATUS_ANSWERED);
  t.clear_oldest_unanswered();
  t.set_unanswered_count(0);
  SetProtoTime(at, t.mutable_last_outbound());
  t.set_message_count(2);
  t.set_last_event_id(event_id);
  SetProtoTime(at, t.mutable_updated_at());
  return r;
}

}  // namespace earshot::testing
