// Waiting for SIGINT/SIGTERM in long-running verbs (serve, follow). Construct before starting any
// thread: the signals are blocked in every thread and received only by wait().
#pragma once

#include <csignal>
#include <pthread.h>
#include <unistd.h>

namespace hugo::cli {

class ShutdownSignals {
 public:
  ShutdownSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  // Returns when SIGINT or SIGTERM arrives (or interrupt() is called).
  void wait() {
    int received = 0;
    sigwait(&set_, &received);
  }
  // Ends wait() from another thread of this process.
  void interrupt() { kill(getpid(), SIGTERM); }

 private:
  sigset_t set_;
};

}  // namespace hugo::cli
