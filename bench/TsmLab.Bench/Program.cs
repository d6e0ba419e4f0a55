using BenchmarkDotNet.Running;
using TsmLab.Bench;
using TsmLab.Run;

// `run-syscalls` is the tsmlab run benchmark (a C driver, not BenchmarkDotNet); the launcher verb
// is this executable re-entered by RunSession to exec the driver under the filter.
if (args.Length > 0 && args[0] == RunLauncher.Verb) return RunLauncher.Main(args[1..]);
if (args.Length > 0 && args[0] == RunSyscallBench.Verb) return RunSyscallBench.Execute(args[1..]);
if (args.Length > 0 && args[0] == ParallelCpuTime.Verb) return ParallelCpuTime.Execute(args[1..]);
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
