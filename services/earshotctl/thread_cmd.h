#pragma once
// `earshotctl thread get|list|resolve`: the router's earshot.v1.Threads service. One unary
// call each, on the main thread.
#include <string>
#include <vector>

#include "services/earshotctl/args.h"

namespace earshot::ctl {

// `operands` are the words after "thread": get KEY | list | resolve KEY.
int RunThread(const std::vector<std::string>& operands, const ThreadArgs& args, const Io& io);

}  // namespace earshot::ctl
