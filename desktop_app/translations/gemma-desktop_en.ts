<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en">
<context>
    <name>AttachmentChip</name>
    <message numerus="yes">
        <source>%Ln token(s)</source>
        <translation>
            <numerusform>%Ln token</numerusform>
            <numerusform>%Ln tokens</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>The model sees this image as %Ln token(s).</source>
        <translation>
            <numerusform>The model sees this image as %Ln token.</numerusform>
            <numerusform>The model sees this image as %Ln tokens.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln view(s)</source>
        <translation>
            <numerusform>%Ln view</numerusform>
            <numerusform>%Ln views</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Pan &amp; Scan: the model sees the whole image and %n crop(s) of it, {tokens} tokens in all. The switch below reads it as one view.</source>
        <translation>
            <numerusform>Pan &amp; Scan: the model sees the whole image and %n crop of it, {tokens} tokens in all. The switch below reads it as one view.</numerusform>
            <numerusform>Pan &amp; Scan: the model sees the whole image and %n crops of it, {tokens} tokens in all. The switch below reads it as one view.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n view(s), for small text</source>
        <translation>
            <numerusform>%n view, for small text</numerusform>
            <numerusform>%n views, for small text</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>One view: {one} tokens and one encode. %n views (the whole image and crops of it, for small text): {many} tokens and %n encodes. Click to switch.</source>
        <translation>
            <numerusform>One view: {one} tokens and one encode. %n views (the whole image and crops of it, for small text): {many} tokens and %n encodes. Click to switch.</numerusform>
            <numerusform>One view: {one} tokens and one encode. %n views (the whole image and crops of it, for small text): {many} tokens and %n encodes. Click to switch.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln page(s)</source>
        <translation>
            <numerusform>%Ln page</numerusform>
            <numerusform>%Ln pages</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>The model reads this document as %Ln token(s).</source>
        <translation>
            <numerusform>The model reads this document as %Ln token.</numerusform>
            <numerusform>The model reads this document as %Ln tokens.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln scanned page(s) are read as images.</source>
        <translation>
            <numerusform>%Ln scanned page is read as an image.</numerusform>
            <numerusform>%Ln scanned pages are read as images.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>ChatSession</name>
    <message numerus="yes">
        <source>%n earlier attachment(s) of this conversation could not be read and were left out.</source>
        <translation>
            <numerusform>%n earlier attachment of this conversation could not be read and was left out.</numerusform>
            <numerusform>%n earlier attachments of this conversation could not be read and were left out.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message numerus="yes">
        <source>Gemma sees the first exchange and what follows this line; the %n message(s) between them no longer fit its context.</source>
        <translation>
            <numerusform>Gemma sees the first exchange and what follows this line; the %n message between them no longer fits its context.</numerusform>
            <numerusform>Gemma sees the first exchange and what follows this line; the %n messages between them no longer fit its context.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message numerus="yes">
        <source>Send the first %n page(s)</source>
        <translation>
            <numerusform>Send the first page</numerusform>
            <numerusform>Send the first %n pages</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>MessageWidget</name>
    <message numerus="yes">
        <source>%Ln token(s)</source>
        <translation>
            <numerusform>%Ln token</numerusform>
            <numerusform>%Ln tokens</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>ModelDetails</name>
    <message numerus="yes">
        <source>%Ln token(s)</source>
        <translation>
            <numerusform>%Ln token</numerusform>
            <numerusform>%Ln tokens</numerusform>
        </translation>
    </message>
</context>
</TS>
