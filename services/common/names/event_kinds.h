#pragma once
// What kind of thing an event is, as every service reads it.
#include "earshot/v1/event.pb.h"

namespace earshot::events {

// True when the event is a message a customer (INBOUND) or the brand (OUTBOUND) wrote, as
// opposed to an edit, delete, reaction, status or control.
inline bool IsMessage(const earshot::v1::Event& event) {
  switch (event.kind()) {
    case earshot::v1::KIND_MENTION:
    case earshot::v1::KIND_COMMENT:
    case earshot::v1::KIND_REPLY:
    case earshot::v1::KIND_DIRECT_MESSAGE:
    case earshot::v1::KIND_REVIEW:
    case earshot::v1::KIND_POST:
      return true;
    default:
      return false;
  }
}

}  // namespace earshot::events
