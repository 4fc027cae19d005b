//! Engine tests: the commit protocol, the garbage collector, and crash safety proven by killing
//! real child processes (`kill -9`) at every failpoint and at random moments.

mod commit;
mod crash;
mod fixture;
