#pragma once
// `earshotctl erase --customer=<platform>:<author id>`: the router's Threads.Erase, which erases
// every thread the customer takes part in, on every replica, and writes an audit record.
#include <string>
#include <vector>

#include "services/earshotctl/args.h"

namespace earshot::ctl {

// `operands` are the words after "erase": none.
int RunErase(const std::vector<std::string>& operands, const ThreadArgs& args, const Io& io);

}  // namespace earshot::ctl
