using System.Buffers;
using System.IO.Compression;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace OrleansJobs.ApiHost.Archive;

/// <summary>One line of an archive (without its line feed), numbered from 1.</summary>
public readonly record struct ArchiveLine(long Number, byte[] Bytes);

/// <summary>
/// The lines of a gzip'd archive, read as the stream arrives: at most <c>maxLineBytes</c> of one line in memory,
/// and a stream that is not gzip, is corrupt or stops in the middle named by the line it was reading.
/// </summary>
public static class ArchiveLines
{
    public static async IAsyncEnumerable<ArchiveLine> ReadAsync(Stream compressed, int maxLineBytes, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var gzip = new GZipStream(compressed, CompressionMode.Decompress, leaveOpen: true);
        var reader = PipeReader.Create(gzip, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
        long number = 0;
        try
        {
            while (true)
            {
                var result = await ReadAsync(reader, number + 1, cancellationToken);
                var buffer = result.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    var line = buffer.Slice(0, end);
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                    number++;
                    yield return new ArchiveLine(number, Checked(line, number, maxLineBytes));
                }

                if (buffer.Length > maxLineBytes)
                {
                    throw TooLong(number + 1, maxLineBytes);
                }

                if (result.IsCompleted)
                {
                    if (buffer.Length > 0)
                    {
                        // A last line without its line feed: whether it is whole, its parse tells.
                        number++;
                        yield return new ArchiveLine(number, buffer.ToArray());
                    }

                    yield break;
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    private static async Task<ReadResult> ReadAsync(PipeReader reader, long line, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadAsync(cancellationToken);
        }
        catch (InvalidDataException ex)
        {
            throw new ArchiveException(line, $"the archive is not gzip, or its gzip stream is corrupt ({ex.Message})");
        }
        catch (EndOfStreamException)
        {
            throw new ArchiveException(line, "the gzip stream is cut short");
        }
    }

    private static byte[] Checked(ReadOnlySequence<byte> line, long number, int maxLineBytes) =>
        line.Length > maxLineBytes ? throw TooLong(number, maxLineBytes) : line.ToArray();

    private static ArchiveException TooLong(long line, int maxLineBytes) =>
        new(line, $"is longer than {maxLineBytes / (1024 * 1024)} MiB (Api:ArchiveMaxLineBytes)");
}
