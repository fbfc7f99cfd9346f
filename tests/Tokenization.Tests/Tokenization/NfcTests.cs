using InferenceServer.Tokenization;

namespace InferenceServer.Tokenization.Tests.Tokenization;

public class NfcTests
{
    [Fact]
    public void NfcComposesAndReorders()
    {
        Assert.Equal("é", Nfc.Normalize("e\u0301"));
        Assert.Equal("ﬁ", Nfc.Normalize("ﬁ")); // compatibility mappings are not NFC's business
        Assert.Equal("한", Nfc.Normalize("\u1112\u1161\u11AB"));
        Assert.Equal("\u1E0D\u0307", Nfc.Normalize("d\u0307\u0323")); // dot below (220) sorts before dot above (230)
        Assert.Equal("Å", Nfc.Normalize("\u212B")); // Ångström sign → its canonical singleton
    }

    [Fact]
    public void AlreadyComposedTextIsReturnedAsIs()
    {
        foreach (var line in EvalText.Lines)
            Assert.Equal(line, Nfc.Normalize(line));
        const string mixed = "Zoë's naïve café, 日本語, 한국어, Привет";
        Assert.Equal(mixed, Nfc.Normalize(mixed));
    }
}
