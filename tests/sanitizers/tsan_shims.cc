// What ThreadSanitizer needs to see through Debian's uninstrumented libraries; linked into
// every executable of the TSan build (cmake/EarshotSanitizers.cmake).
//
// 1. C11 threads. librdkafka starts its threads and takes its locks through glibc's thrd_create,
// mtx_lock and cnd_wait, which call pthread internally, past TSan's interceptors: its threads had
// no TSan state (a crash at their first malloc) and its locks were invisible. The definitions
// at the end forward them to the pthread functions TSan intercepts (glibc's own
// implementation does the same, with the same types underneath).
//
// 2. absl::Mutex. Debian's Abseil is built without -fsanitize=thread, so its Mutex tells TSan
// nothing: every guarded access looked like a race, in Earshot and in gRPC (which locks through
// absl::Mutex too). These definitions interpose the library's: the executable's symbol wins for
// every caller, libraries included, calls the real one (dlsym RTLD_NEXT) and adds the
// happens-before edge a lock means: acquire after taking it, release before giving it up, both
// around a wait. Reader locks are treated as exclusive, which only adds edges.
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <threads.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/synchronization/mutex.h"

extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);

namespace {

#define EARSHOT_STR2(x) #x
#define EARSHOT_STR(x) EARSHOT_STR2(x)

// The library's symbol for a member of absl::<inline namespace>, given the rest of its mangled
// name ("5Mutex4LockEv").
template <typename F>
F Real(const char* rest) {
  const std::string ns = EARSHOT_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = "_ZN4absl" + std::to_string(ns.size()) + ns + rest;
  void* p = dlsym(RTLD_NEXT, name.c_str());
  if (p == nullptr) {
    std::fprintf(stderr, "absl_tsan: %s not found in the Abseil library\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<F>(p);
}

// A condition is evaluated by the library while the lock is held, by the waiting thread or by
// the one unlocking, where the wrappers below do not see it: each condition passed on is
// wrapped to acquire before and release after its evaluation. It is built before the wrapper's
// release, so that the unlocking thread that evaluates it sees it built.
struct Guarded {
  const absl::Condition* cond;
  absl::Mutex* mu;
  static bool Eval(void* arg) {
    auto* g = static_cast<Guarded*>(arg);
    __tsan_acquire(g->mu);
    const bool holds = g->cond->Eval();
    // Whoever takes the lock next comes after this evaluation.
    __tsan_release(g->mu);
    return holds;
  }
};

// Abseil's deadlock detection keeps its lock graph under a spin lock of its own that TSan cannot
// see, so every use of the graph reads as a race; TSan detects lock-order inversions itself.
__attribute__((constructor)) void NoAbslDeadlockGraph() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}
void Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}
bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}
bool Mutex::ReaderTryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}
void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}
void Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}
void Mutex::LockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex8LockWhenERKNS0_9ConditionE");
  Guarded g{&cond, this};
  real(this, Condition(&Guarded::Eval, &g));
  __tsan_acquire(this);
}
void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Guarded g{&cond, this};
  real(this, Condition(&Guarded::Eval, &g));
  __tsan_acquire(this);
}
bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, Duration)>(
      "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Guarded g{&cond, this};
  const bool met = real(this, Condition(&Guarded::Eval, &g), timeout);
  __tsan_acquire(this);
  return met;
}
bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Guarded g{&cond, this};
  const bool met = real(this, Condition(&Guarded::Eval, &g), deadline);
  __tsan_acquire(this);
  return met;
}
void Mutex::Await(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex5AwaitERKNS0_9ConditionE");
  Guarded g{&cond, this};
  __tsan_release(this);
  real(this, Condition(&Guarded::Eval, &g));
  __tsan_acquire(this);
}
bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, Duration)>(
      "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Guarded g{&cond, this};
  __tsan_release(this);
  const bool met = real(this, Condition(&Guarded::Eval, &g), timeout);
  __tsan_acquire(this);
  return met;
}
bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Guarded g{&cond, this};
  __tsan_release(this);
  const bool met = real(this, Condition(&Guarded::Eval, &g), deadline);
  __tsan_acquire(this);
  return met;
}
void CondVar::Wait(Mutex* mu) {
  static const auto real = Real<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}
bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, Duration)>(
      "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}
bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static const auto real =
      Real<bool (*)(CondVar*, Mutex*, Time)>("7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl

// C11 threads over pthread (1. above).
static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t));
static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t));
static_assert(sizeof(thrd_t) == sizeof(pthread_t));

namespace {

struct ThreadStart {
  thrd_start_t fn;
  void* arg;
};

void* RunC11Thread(void* p) {
  ThreadStart start = *static_cast<ThreadStart*>(p);
  delete static_cast<ThreadStart*>(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.fn(start.arg)));
}

int C11Result(int rc) {
  if (rc == 0) return thrd_success;
  if (rc == ETIMEDOUT) return thrd_timedout;
  if (rc == EBUSY) return thrd_busy;
  if (rc == ENOMEM || rc == EAGAIN) return thrd_nomem;
  return thrd_error;
}

pthread_mutex_t* Mu(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* Cv(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

}  // namespace

extern "C" {

int thrd_create(thrd_t* thread, thrd_start_t fn, void* arg) {
  auto* start = new ThreadStart{fn, arg};
  const int rc = pthread_create(reinterpret_cast<pthread_t*>(thread), nullptr, RunC11Thread, start);
  if (rc != 0) delete start;
  return C11Result(rc);
}
int thrd_join(thrd_t thread, int* result) {
  void* value = nullptr;
  const int rc = pthread_join(static_cast<pthread_t>(thread), &value);
  if (rc == 0 && result != nullptr) *result = static_cast<int>(reinterpret_cast<intptr_t>(value));
  return C11Result(rc);
}
int thrd_detach(thrd_t thread) { return C11Result(pthread_detach(static_cast<pthread_t>(thread))); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int rc = pthread_mutex_init(Mu(m), &attr);
  pthread_mutexattr_destroy(&attr);
  return C11Result(rc);
}
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(Mu(m)); }
int mtx_lock(mtx_t* m) { return C11Result(pthread_mutex_lock(Mu(m))); }
int mtx_trylock(mtx_t* m) { return C11Result(pthread_mutex_trylock(Mu(m))); }
int mtx_timedlock(mtx_t* m, const struct timespec* at) {
  return C11Result(pthread_mutex_timedlock(Mu(m), at));
}
int mtx_unlock(mtx_t* m) { return C11Result(pthread_mutex_unlock(Mu(m))); }

int cnd_init(cnd_t* c) { return C11Result(pthread_cond_init(Cv(c), nullptr)); }
void cnd_destroy(cnd_t* c) { pthread_cond_destroy(Cv(c)); }
int cnd_signal(cnd_t* c) { return C11Result(pthread_cond_signal(Cv(c))); }
int cnd_broadcast(cnd_t* c) { return C11Result(pthread_cond_broadcast(Cv(c))); }
int cnd_wait(cnd_t* c, mtx_t* m) { return C11Result(pthread_cond_wait(Cv(c), Mu(m))); }
int cnd_timedwait(cnd_t* c, mtx_t* m, const struct timespec* at) {
  return C11Result(pthread_cond_timedwait(Cv(c), Mu(m), at));
}

}  // extern "C"
