using System.Text.Json;
using OrleansJobs.Jobs.Synthetic;

namespace OrleansJobs.Tests.Jobs;

public sealed class SyntheticParametersTests
{
    [Theory]
    [InlineData("""{"items": 0}""")]
    [InlineData("""{"items": 500, "itemMs": 10, "failAtItem": 7, "hangAtItem": 9, "failProbability": 0.25, "record": false}""")]
    [InlineData("""{"items": 10000000, "itemMs": 3600000, "failProbability": 1}""")]
    [InlineData("""{"items": 5, "failAtItem": null}""")]
    public void Validate_AcceptsGoodParameters(string json)
    {
        Assert.Empty(SyntheticParameters.Validate(Parse(json)));
    }

    [Theory]
    [InlineData("""[1, 2]""", "parameters")]
    [InlineData("""{}""", "parameters.items")]
    [InlineData("""{"items": -1}""", "parameters.items")]
    [InlineData("""{"items": 10000001}""", "parameters.items")]
    [InlineData("""{"items": 1.5}""", "parameters.items")]
    [InlineData("""{"items": "10"}""", "parameters.items")]
    [InlineData("""{"items": 10, "itemMs": -5}""", "parameters.itemMs")]
    [InlineData("""{"items": 10, "failAtItem": 11}""", "parameters.failAtItem")]
    [InlineData("""{"items": 10, "failAtItem": 0}""", "parameters.failAtItem")]
    [InlineData("""{"items": 10, "hangAtItem": 11}""", "parameters.hangAtItem")]
    [InlineData("""{"items": 10, "failProbability": 1.01}""", "parameters.failProbability")]
    [InlineData("""{"items": 10, "failProbability": "often"}""", "parameters.failProbability")]
    [InlineData("""{"items": 10, "record": "yes"}""", "parameters.record")]
    [InlineData("""{"items": 10, "itemMS": 5}""", "parameters.itemMS")]
    public void Validate_NamesTheBadField(string json, string field)
    {
        var errors = SyntheticParameters.Validate(Parse(json));

        var error = Assert.Single(errors);
        Assert.Equal(field, error.Field);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public void Parse_ReadsEveryParameterAndDefaults()
    {
        var full = SyntheticParameters.Parse(Parse("""{"items": 9, "itemMs": 3, "failAtItem": 4, "hangAtItem": 5, "failProbability": 0.5, "record": false}"""));
        var minimal = SyntheticParameters.Parse(Parse("""{"items": 9}"""));

        Assert.Equal(new SyntheticParameters(9, 3, 4, 5, 0.5, false), full);
        Assert.Equal(new SyntheticParameters(9, 0, null, null, 0, true), minimal);
        Assert.Throws<ArgumentException>(() => SyntheticParameters.Parse(Parse("""{"items": -1}""")));
    }

    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
