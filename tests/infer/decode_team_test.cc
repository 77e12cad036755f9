// infer/decode_team.h: every member runs once per team_run, barriers separate phases (no member sees a later
// phase's writes before the barrier, every member sees all earlier writes after it), team sizes change between
// runs, a team whose members mostly wait asleep falls back to the caller alone, and a second caller while the
// team is busy runs alone.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "xfmr/infer/decode_team.h"

namespace xfmr::infer {
namespace {

TEST(DecodeTeam, MembersRunOnceAndBarriersOrderPhases) {
  team_set_contention_fallback(false);  // every run must get its full team, however loaded the machine is
  for (int nt : {1, 2, 3, 2, 4, 1, 3}) {
    std::vector<int> slot(static_cast<size_t>(nt), 0);
    std::atomic<int> ran{0}, bad{0};
    for (int rep = 0; rep < 50; ++rep) {
      team_run(nt, [&](int tid, int n) {
        ran.fetch_add(1);
        if (n != nt) bad.fetch_add(1);
        for (int phase = 1; phase <= 5; ++phase) {
          slot[static_cast<size_t>(tid)] = rep * 10 + phase;  // each member writes its own slot
          team_barrier(n);
          for (int k = 0; k < n; ++k)  // ... and after the barrier reads everyone's
            if (slot[static_cast<size_t>(k)] != rep * 10 + phase) bad.fetch_add(1);
          team_barrier(n);
        }
      });
    }
    EXPECT_EQ(ran.load(), 50 * nt) << nt;
    EXPECT_EQ(bad.load(), 0) << nt;
  }
  team_set_contention_fallback(true);
}

// A team run whose members mostly wait asleep (here a member that arrives 5 ms late at every barrier, far past
// the spin) makes the following runs go on the caller alone; turning the fallback off restores the team.
TEST(DecodeTeam, ContentionFallsBackToTheCallerAlone) {
  team_set_contention_fallback(true);
  const auto late_member = [](int tid, int n) {
    for (int phase = 0; phase < 8; ++phase) {
      if (tid == 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      team_barrier(n);
    }
  };
  std::atomic<int> size{0};
  const auto record = [&](int tid, int n) {
    if (tid == 0) size = n;
  };
  team_run(2, late_member);  // without contention_fallback: neither counted nor affected
  team_run(2, record, true);
  EXPECT_EQ(size.load(), 2);
  team_run(2, late_member, true);
  team_run(2, record, true);
  EXPECT_EQ(size.load(), 1);
  team_run(2, record);  // a run without the flag keeps its team during the fallback
  EXPECT_EQ(size.load(), 2);
  team_set_contention_fallback(false);
  team_run(2, record, true);
  EXPECT_EQ(size.load(), 2);
  team_set_contention_fallback(true);
}

TEST(DecodeTeam, ASecondCallerWhileBusyRunsAlone) {
  std::atomic<bool> inside{false}, release{false};
  std::atomic<int> other_nt{0};
  std::thread t([&] {
    team_run(2, [&](int tid, int) {
      if (tid == 0) {
        inside = true;
        while (!release) std::this_thread::yield();
      }
    });
  });
  while (!inside) std::this_thread::yield();
  team_run(2, [&](int, int n) { other_nt = n; });
  release = true;
  t.join();
  EXPECT_EQ(other_nt.load(), 1);
}

}  // namespace
}  // namespace xfmr::infer
