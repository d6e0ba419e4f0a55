using System.Buffers;
using SharpFuzz;
using TsmLab.Fuzz;

// tsmlab-fuzz list | run TARGET | replay TARGET PATH... | seeds DIR   (fuzz/README.md)
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("usage: tsmlab-fuzz list | run TARGET | replay TARGET FILE-OR-DIR... | seeds DIR");
    return 2;
}
switch (args[0])
{
    case "list":
        foreach (var t in FuzzTargets.All) Console.WriteLine($"{t.Name,-16} {t.Parses}");
        return 0;
    case "run" when args.Length == 2 && FuzzTargets.Find(args[1]) is { } target:
        // AFL++ persistent mode: one process runs many inputs.
        Fuzzer.Run(stream =>
        {
            var buffer = ArrayPool<byte>.Shared.Rent(FuzzTargets.MaxInput);
            int n = 0, k;
            while (n < FuzzTargets.MaxInput && (k = stream.Read(buffer, n, FuzzTargets.MaxInput - n)) > 0) n += k;
            var data = buffer.AsSpan(0, n).ToArray();
            ArrayPool<byte>.Shared.Return(buffer);
            target(data);
        });
        return 0;
    case "replay" when args.Length >= 3 && FuzzTargets.Find(args[1]) is { } target:
    {
        int failures = 0, count = 0;
        foreach (var path in args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p) : [p]))
        {
            count++;
            var data = File.ReadAllBytes(path);
            try { target(data.Length > FuzzTargets.MaxInput ? data[..FuzzTargets.MaxInput] : data); }
            catch (Exception e)
            {
                failures++;
                Console.WriteLine($"{path}: {e.GetType().Name}: {e.Message}");
                Console.WriteLine(e.StackTrace);
            }
        }
        Console.WriteLine($"{count} inputs, {failures} failures");
        return failures == 0 ? 0 : 1;
    }
    case "seeds" when args.Length == 2:
        Seeds.Write(args[1]);
        return 0;
    default:
        Console.Error.WriteLine($"tsmlab-fuzz: unknown command or target; targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
        return 2;
}
