using System.Text.Json;
using Orleans.Storage;

namespace OrleansJobs.Storage;

/// <summary>
/// Stores grain state as plain JSON keyed by property name. Unlike the default Newtonsoft
/// serializer it writes no CLR type names, so renaming a state class or its assembly does not
/// orphan stored checkpoints, and operators can read a checkpoint with <c>psql</c>.
/// </summary>
public sealed class JsonGrainStorageSerializer : IGrainStorageSerializer
{
    /// <summary>Options of the on-disk format: property names as declared, enums by name.</summary>
    public static JsonSerializerOptions Options => Jobs.StoredJob.JsonOptions;

    /// <inheritdoc />
    public BinaryData Serialize<T>(T? input) => new(JsonSerializer.SerializeToUtf8Bytes(input, Options));

    /// <inheritdoc />
    public T Deserialize<T>(BinaryData input) =>
        JsonSerializer.Deserialize<T>(input.ToMemory().Span, Options)
        ?? throw new InvalidOperationException($"Stored state of {typeof(T).Name} is JSON null");
}
