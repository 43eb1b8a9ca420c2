#pragma once
// The conversation state machine: how one event changes a thread. Pure functions, no I/O; the
// router applies them in partition order, so the same input always gives the same state.
//
//   customer message (INBOUND mention, comment, reply, DM, review, post) → AWAITING_REPLY;
//       starts a wait at its time when none is open, else joins the open one
//   brand message (OUTBOUND, also a WhatsApp status other than "failed")  → ANSWERED;
//       closes the wait
//   customer deletes its only unanswered message                          → RESOLVED
//   Resolve control event                                                 → RESOLVED, with reason
//   edits, reactions                                                      → no clock changes
//   a rule's `ignore`                                                     → tracked, no wait
#include <string>

#include "absl/time/time.h"
#include "earshot/v1/event.pb.h"
#include "earshot/v1/routing.pb.h"
#include "services/common/names/event_kinds.h"

namespace earshot::router {

struct ThreadLimits {
  int max_participants = 20;
  int max_pending = 50;  // unanswered message ids kept per thread
  int excerpt_chars = 140;
};

// The time an event counts from: the platform's time, else the gateway's.
absl::Time EventTime(const earshot::v1::Event& event);

// Applies `event` (with its routing decision) to `thread`. A new thread is an empty message.
void ApplyEvent(const earshot::v1::Event& event, const earshot::v1::RoutingDecision& decision,
                const ThreadLimits& limits, earshot::v1::Thread* thread);

using events::IsMessage;

}  // namespace earshot::router
