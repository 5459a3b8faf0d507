<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name></name>
    <message>
        <source>llama.cpp could not load {name}: the file is damaged, is not a Gemma model this app runs, or there is not enough memory for it.</source>
        <translation>llama.cpp 无法加载 {name}：文件已损坏、不是本应用能运行的 Gemma 模型，或内存不足。</translation>
    </message>
    <message>
        <source>There is not enough memory for a context of {n_ctx} tokens with {name}; choose a smaller context size.</source>
        <translation>内存不足以让 {name} 使用 {n_ctx} 个词元的上下文；请选择较小的上下文长度。</translation>
    </message>
    <message>
        <source>The projector {projector} does not fit {model} or is damaged; choose the mmproj file made for this model.</source>
        <translation>视觉投影器 {projector} 与 {model} 不匹配或已损坏；请选择为该模型制作的 mmproj 文件。</translation>
    </message>
    <message>
        <source>This model has no vision projector loaded; add its mmproj file.</source>
        <translation>该模型未加载视觉投影器；请添加它的 mmproj 文件。</translation>
    </message>
    <message>
        <source>This message needs {tokens} tokens, {documents} of them its documents; the model holds at most {train} and the context is set to {n_ctx}. Choose a larger context size or attach fewer pages.</source>
        <translation>这条消息需要 {tokens} 个词元，其中文档占 {documents} 个；该模型最多容纳 {train} 个，当前上下文长度设为 {n_ctx}。请选择更大的上下文长度，或少附加一些页面。</translation>
    </message>
    <message>
        <source>This conversation needs {tokens} tokens but the context holds {n_ctx}; start a new chat or choose a larger context size.</source>
        <translation>这个对话需要 {tokens} 个词元，但上下文只能容纳 {n_ctx} 个；请新建对话，或选择更大的上下文长度。</translation>
    </message>
    <message>
        <source>reading the prompt</source>
        <translation>读取提示词</translation>
    </message>
    <message>
        <source>encoding image {n} of {total}</source>
        <translation>编码第 {n} 张图片（共 {total} 张）</translation>
    </message>
    <message>
        <source>writing</source>
        <translation>生成回复</translation>
    </message>
    <message>
        <source>it stopped responding</source>
        <translation>它已停止响应</translation>
    </message>
    <message>
        <source>it was stopped by {signal}</source>
        <translation>它被 {signal} 信号终止</translation>
    </message>
    <message>
        <source>it was stopped by signal {number}</source>
        <translation>它被 {number} 号信号终止</translation>
    </message>
    <message>
        <source>it exited with code {code}</source>
        <translation>它以退出码 {code} 退出</translation>
    </message>
    <message>
        <source>The engine stopped while counting tokens.</source>
        <translation>统计词元时引擎停止了。</translation>
    </message>
    <message>
        <source>The engine stopped while loading the model ({reason}); the file may be damaged or too large for this computer&apos;s memory.</source>
        <translation>加载模型时引擎停止了（{reason}）；文件可能已损坏，或超出了这台电脑的内存。</translation>
    </message>
    <message>
        <source>The engine stopped unexpectedly ({reason}); what was written so far is kept, and the engine restarts with your next message.</source>
        <translation>引擎意外停止（{reason}）；已生成的内容已保留，引擎会在你发送下一条消息时重新启动。</translation>
    </message>
    <message>
        <source>The model took too long to load.</source>
        <translation>模型加载时间过长。</translation>
    </message>
    <message>
        <source>This message needs {tokens} tokens; the model holds at most {train} and the context is set to {n_ctx}.</source>
        <translation>这条消息需要 {tokens} 个词元；该模型最多容纳 {train} 个，当前上下文长度设为 {n_ctx}。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is {tokens} tokens; the model holds at most {train} and the context is set to {n_ctx}.</source>
        <translation>“{name}”有 {tokens} 个词元；该模型最多容纳 {train} 个，当前上下文长度设为 {n_ctx}。</translation>
    </message>
    <message>
        <source>A context of {n_ctx} tokens holds it and fits this computer&apos;s memory.</source>
        <translation>{n_ctx} 个词元的上下文可以容纳它，这台电脑的内存也够用。</translation>
    </message>
    <message>
        <source>Its first {pages} pages fit the context as it is.</source>
        <translation>按当前的上下文长度，可以容纳它的前 {pages} 页。</translation>
    </message>
    <message>
        <source>Attach a shorter document or fewer pages.</source>
        <translation>请附加更短的文档或更少的页面。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is an old Word document (.doc), which Gemma Desktop cannot read; save it as .docx or PDF first.</source>
        <translation>“{name}”是旧版 Word 文档（.doc），Gemma Desktop 无法读取；请先另存为 .docx 或 PDF。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is an image, not a document; attach it as an image.</source>
        <translation>“{name}”是图片，不是文档；请作为图片附加。</translation>
    </message>
    <message>
        <source>The document &apos;{path}&apos; could not be read: {reason}.</source>
        <translation>无法读取文档“{path}”：{reason}。</translation>
    </message>
    <message>
        <source>The document &apos;{name}&apos; is empty (0 bytes).</source>
        <translation>文档“{name}”是空的（0 字节）。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is {size} MB, more than the {limit} MB Gemma Desktop reads for a document of its kind.</source>
        <translation>“{name}”大小为 {size} MB，超过了 Gemma Desktop 对这类文档的 {limit} MB 上限。</translation>
    </message>
    <message>
        <source>The PDF &apos;{name}&apos; has no pages.</source>
        <translation>PDF“{name}”没有任何页面。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; has {pages} pages; Gemma Desktop reads PDFs of up to {limit} pages, more than the largest context holds. Split it, or save the pages you need as a new PDF.</source>
        <translation>“{name}”共 {pages} 页；Gemma Desktop 最多读取 {limit} 页的 PDF，这已超过最大上下文所能容纳的内容。请拆分文件，或把需要的页面另存为新的 PDF。</translation>
    </message>
    <message>
        <source>Reading &apos;{name}&apos; was stopped.</source>
        <translation>已停止读取“{name}”。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; holds more than {limit} characters of text by page {page}, more than the largest context holds; save the pages you need as a new PDF.</source>
        <translation>“{name}”读到第 {page} 页时文字已超过 {limit} 个字符，超出了最大上下文所能容纳的内容；请把需要的页面另存为新的 PDF。</translation>
    </message>
    <message>
        <source>The PDF &apos;{name}&apos; is damaged, so its text cannot be read.</source>
        <translation>PDF“{name}”已损坏，无法读取其中的文字。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is a scanned document with no text layer; load a model with a vision projector (mmproj) to read its pages as images.</source>
        <translation>“{name}”是没有文字层的扫描文档；请加载带视觉投影器（mmproj）的模型，把页面当作图片读取。</translation>
    </message>
    <message>
        <source>The PDF &apos;{name}&apos; contains no text.</source>
        <translation>PDF“{name}”中没有文字。</translation>
    </message>
    <message>
        <source>The PDF &apos;{name}&apos; is protected by a password; open it in a PDF reader and save an unprotected copy to attach it.</source>
        <translation>PDF“{name}”受密码保护；请在 PDF 阅读器中打开它，另存一份不受保护的副本再附加。</translation>
    </message>
    <message>
        <source>The PDF &apos;{name}&apos; is damaged or is not really a PDF, so it cannot be read.</source>
        <translation>PDF“{name}”已损坏或并非真正的 PDF，无法读取。</translation>
    </message>
    <message>
        <source>The Word document &apos;{name}&apos; is damaged (it is not a complete zip file), so it cannot be read.</source>
        <translation>Word 文档“{name}”已损坏（不是完整的 zip 文件），无法读取。</translation>
    </message>
    <message>
        <source>The Word document &apos;{name}&apos; would unpack to {size} MB of text and markup, more than the {limit} MB Gemma Desktop reads; it may be a zip bomb.</source>
        <translation>Word 文档“{name}”解压后的文字和标记将达 {size} MB，超过了 Gemma Desktop 的 {limit} MB 读取上限；它可能是一个 zip 炸弹。</translation>
    </message>
    <message>
        <source>The Word document &apos;{name}&apos; is damaged, so its text cannot be read.</source>
        <translation>Word 文档“{name}”已损坏，无法读取其中的文字。</translation>
    </message>
    <message>
        <source>The document &apos;{name}&apos; contains no text.</source>
        <translation>文档“{name}”中没有文字。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; holds more than {limit} characters of text, more than the largest context holds.</source>
        <translation>“{name}”的文字超过 {limit} 个字符，超出了最大上下文所能容纳的内容。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is not a file Gemma Desktop can read; it reads PDF, Word (.docx), text and code files (txt, md, csv, json, html, …), and PNG, JPEG, WebP, GIF, BMP or TIFF images.</source>
        <translation>Gemma Desktop 无法读取“{name}”；它能读取 PDF、Word（.docx）、文本和代码文件（txt、md、csv、json、html 等），以及 PNG、JPEG、WebP、GIF、BMP 或 TIFF 图片。</translation>
    </message>
    <message>
        <source>The image &apos;{name}&apos; is empty (0 bytes).</source>
        <translation>图片“{name}”是空的（0 字节）。</translation>
    </message>
    <message>
        <source>The image file &apos;{path}&apos; could not be read: {reason}.</source>
        <translation>无法读取图片文件“{path}”：{reason}。</translation>
    </message>
    <message>
        <source>The image &apos;{name}&apos; uses a colour format ({mode}) that Gemma Desktop cannot convert to RGB.</source>
        <translation>图片“{name}”使用的颜色格式（{mode}）无法被 Gemma Desktop 转换为 RGB。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is a {format} photo, which Gemma Desktop cannot read; export it as JPEG or PNG first.</source>
        <translation>“{name}”是 {format} 照片，Gemma Desktop 无法读取；请先导出为 JPEG 或 PNG。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is an image in {format} format, which Gemma Desktop cannot use; use a PNG, JPEG, WebP, GIF, BMP or TIFF file.</source>
        <translation>“{name}”是 {format} 格式的图片，Gemma Desktop 无法使用；请使用 PNG、JPEG、WebP、GIF、BMP 或 TIFF 文件。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is not an image Gemma Desktop can read; use a PNG, JPEG, WebP, GIF, BMP or TIFF file.</source>
        <translation>“{name}”不是 Gemma Desktop 能读取的图片；请使用 PNG、JPEG、WebP、GIF、BMP 或 TIFF 文件。</translation>
    </message>
    <message>
        <source>The {format} image &apos;{name}&apos; is damaged or incomplete, so it cannot be used.</source>
        <translation>{format} 图片“{name}”已损坏或不完整，无法使用。</translation>
    </message>
    <message>
        <source>The image &apos;{name}&apos; is damaged or incomplete, so it cannot be used.</source>
        <translation>图片“{name}”已损坏或不完整，无法使用。</translation>
    </message>
    <message>
        <source>The image &apos;{name}&apos; is too large to open safely (the limit is {limit} megapixels).</source>
        <translation>图片“{name}”太大，无法安全打开（上限为 {limit} 百万像素）。</translation>
    </message>
    <message>
        <source>The image &apos;{name}&apos; is {width}x{height} pixels, too large to open safely (the limit is {limit} megapixels).</source>
        <translation>图片“{name}”为 {width}×{height} 像素，太大，无法安全打开（上限为 {limit} 百万像素）。</translation>
    </message>
    <message>
        <source>The image &apos;{name}&apos; is {size} MB, more than the {limit} MB Gemma Desktop accepts for one image.</source>
        <translation>图片“{name}”大小为 {size} MB，超过了 Gemma Desktop 对单张图片 {limit} MB 的上限。</translation>
    </message>
    <message>
        <source>No model is loaded yet; open a Gemma model first.</source>
        <translation>还没有加载模型；请先打开一个 Gemma 模型。</translation>
    </message>
    <message>
        <source>Loading {name} was cancelled.</source>
        <translation>已取消加载 {name}。</translation>
    </message>
    <message>
        <source>The model could not be loaded (see the log).</source>
        <translation>无法加载模型（详见日志）。</translation>
    </message>
    <message>
        <source>Counting tokens failed inside the engine (see the log).</source>
        <translation>引擎统计词元时出错（详见日志）。</translation>
    </message>
    <message>
        <source>The reply failed inside the engine (see the log).</source>
        <translation>引擎生成回复时出错（详见日志）。</translation>
    </message>
    <message>
        <source>There is no catalog model called &apos;{id}&apos;; run &apos;models list&apos; to see the ids you can download.</source>
        <translation>模型目录中没有名为“{id}”的模型；运行 “models list” 可查看可下载的 ID。</translation>
    </message>
    <message>
        <source>&apos;{address}&apos; is not the web address of a mirror; write it like https://hf-mirror.com.</source>
        <translation>“{address}”不是镜像站的网址；请按 https://hf-mirror.com 的格式填写。</translation>
    </message>
    <message>
        <source>Downloading {name} needs {needed} of free disk space in {folder}, but only {free} is free; free some space and try again.</source>
        <translation>下载 {name} 需要 {folder} 所在磁盘有 {needed} 可用空间，但目前只有 {free}；请腾出一些空间后重试。</translation>
    </message>
    <message>
        <source>Downloading {name} needs about {needed} of free disk space in {folder} (with the downloads queued before it), but only {free} is free; free some space and try again.</source>
        <translation>下载 {name}（连同排在它前面的下载）需要 {folder} 所在磁盘约有 {needed} 可用空间，但目前只有 {free}；请腾出一些空间后重试。</translation>
    </message>
    <message>
        <source>Paste a Hugging Face access token first (it starts with hf_).</source>
        <translation>请先粘贴 Hugging Face 访问令牌（以 hf_ 开头）。</translation>
    </message>
    <message>
        <source>Hugging Face does not accept this token; copy it again from {page} (a &apos;Read&apos; token is enough).</source>
        <translation>Hugging Face 不接受这个访问令牌；请从 {page} 重新复制（“Read”权限的令牌即可）。</translation>
    </message>
    <message>
        <source>Hugging Face answered HTTP {status} when checking the token; try again later.</source>
        <translation>检查访问令牌时 Hugging Face 返回了 HTTP {status}；请稍后重试。</translation>
    </message>
    <message>
        <source>The token cannot be checked because HF_HUB_OFFLINE is set; unset it to sign in.</source>
        <translation>由于设置了 HF_HUB_OFFLINE，无法检查访问令牌；请取消该设置后再登录。</translation>
    </message>
    <message>
        <source>Could not reach Hugging Face to check the token ({reason}); check the internet connection and try again.</source>
        <translation>无法连接 Hugging Face 检查访问令牌（{reason}）；请检查网络连接后重试。</translation>
    </message>
    <message>
        <source>{source} gave no sha256 checksum for {file} in {repo}, so a download could not be verified and was not started.</source>
        <translation>{source} 没有提供 {repo} 中 {file} 的 sha256 校验值，下载无法校验，因此没有开始。</translation>
    </message>
    <message>
        <source>The file {file} in {repo} has changed since this version of Gemma Desktop was made (its checksum differs from the catalog&apos;s), so it was not downloaded; import a file you trust instead.</source>
        <translation>{repo} 中的文件 {file} 在这个版本的 Gemma Desktop 发布后有了变动（校验值与模型目录中的不同），因此没有下载；请改为导入你信任的文件。</translation>
    </message>
    <message>
        <source>{source} did not report the size of {file} in {repo}; try again later.</source>
        <translation>{source} 没有报告 {repo} 中 {file} 的大小；请稍后重试。</translation>
    </message>
    <message>
        <source>Downloads are switched off because HF_HUB_OFFLINE is set; unset it to download models.</source>
        <translation>由于设置了 HF_HUB_OFFLINE，下载已关闭；请取消该设置后再下载模型。</translation>
    </message>
    <message>
        <source>Your Hugging Face token has no access to {repo}: accept Google&apos;s Gemma licence at {page} with the same account, then try again.</source>
        <translation>你的 Hugging Face 访问令牌无权访问 {repo}：请用同一账号在 {page} 接受 Google 的 Gemma 许可协议，然后重试。</translation>
    </message>
    <message>
        <source>{repo} is gated: accept Google&apos;s Gemma licence at {page}, then give Gemma Desktop a Hugging Face token (on the Models page, with HF_TOKEN or with &apos;hf auth login&apos;).</source>
        <translation>{repo} 需要授权：请在 {page} 接受 Google 的 Gemma 许可协议，然后把 Hugging Face 访问令牌交给 Gemma Desktop（在“模型”页面填写、设置 HF_TOKEN，或运行 “hf auth login”）。</translation>
    </message>
    <message>
        <source>The repository {repo} was not found on {source} (a private or gated one also needs a token with access to it).</source>
        <translation>在 {source} 上找不到仓库 {repo}（私有或需要授权的仓库还需要有权访问它的令牌）。</translation>
    </message>
    <message>
        <source>The file {file} is no longer in {repo} on {source}, so the catalog is out of date; choose another model or import a file.</source>
        <translation>{source} 上的 {repo} 中已经没有文件 {file}，模型目录已过时；请选择其他模型，或导入文件。</translation>
    </message>
    <message>
        <source>Hugging Face refused the token (HTTP 401): enter it again on the Models page, check HF_TOKEN or log in again with &apos;hf auth login&apos;.</source>
        <translation>Hugging Face 拒绝了访问令牌（HTTP 401）：请在“模型”页面重新输入，检查 HF_TOKEN，或用 “hf auth login” 重新登录。</translation>
    </message>
    <message>
        <source>{source} is limiting downloads right now (HTTP 429); wait a few minutes and try again.</source>
        <translation>{source} 目前正在限制下载（HTTP 429）；请等几分钟后重试。</translation>
    </message>
    <message>
        <source>{source} had a server error (HTTP {status}); try again later, and the download will resume where it stopped.</source>
        <translation>{source} 出现服务器错误（HTTP {status}）；请稍后重试，下载会从中断处继续。</translation>
    </message>
    <message>
        <source>{source} answered HTTP {status} for {file} in {repo}.</source>
        <translation>{source} 对 {repo} 中的 {file} 返回了 HTTP {status}。</translation>
    </message>
    <message>
        <source>Could not reach {source} ({reason}); check the internet connection and try again, and the download will resume where it stopped.</source>
        <translation>无法连接 {source}（{reason}）；请检查网络连接后重试，下载会从中断处继续。</translation>
    </message>
    <message>
        <source>the connection timed out</source>
        <translation>连接超时</translation>
    </message>
    <message>
        <source>the connection was refused or the name could not be resolved</source>
        <translation>连接被拒绝，或无法解析域名</translation>
    </message>
    <message>
        <source>the connection broke</source>
        <translation>连接中断</translation>
    </message>
    <message>
        <source>The downloaded {file} is damaged (its sha256 does not match the one {source} announced), so it was deleted; run the download again.</source>
        <translation>下载的 {file} 已损坏（其 sha256 与 {source} 公布的不符），已被删除；请重新下载。</translation>
    </message>
    <message>
        <source>The disk holding {folder} is full; free some space and run the download again to resume where it stopped.</source>
        <translation>{folder} 所在的磁盘已满；请腾出一些空间后重新下载，下载会从中断处继续。</translation>
    </message>
    <message>
        <source>The drive holding {folder} cannot store a file of {size} (FAT32 drives stop at 4 GB); keep the models on an NTFS, APFS or ext4 drive.</source>
        <translation>{folder} 所在的磁盘无法存放 {size} 的文件（FAT32 磁盘的单个文件上限为 4 GB）；请把模型放在 NTFS、APFS 或 ext4 磁盘上。</translation>
    </message>
    <message>
        <source>The download of {file} stopped before the end (the connection broke); run it again to resume where it stopped.</source>
        <translation>{file} 的下载没有完成就停止了（连接中断）；请重新运行，下载会从中断处继续。</translation>
    </message>
    <message>
        <source>Could not write {path}: {reason}.</source>
        <translation>无法写入 {path}：{reason}。</translation>
    </message>
    <message>
        <source>The download of {name} was cancelled; start it again to resume where it stopped.</source>
        <translation>{name} 的下载已取消；重新开始即可从中断处继续。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; lacks the layer counts needed to estimate its memory, so it is probably damaged.</source>
        <translation>“{name}”缺少估算内存所需的层数信息，很可能已损坏。</translation>
    </message>
    <message>
        <source>{name} needs about {needed} with {n_ctx} tokens of context and {free} is free on the GPU, so it fits.</source>
        <translation>{name} 在 {n_ctx} 个词元的上下文下约需 {needed}，GPU 上有 {free} 可用，可以运行。</translation>
    </message>
    <message>
        <source>{name} needs about {needed} with {n_ctx} tokens of context and {free} of memory is free, so it fits.</source>
        <translation>{name} 在 {n_ctx} 个词元的上下文下约需 {needed}，可用内存有 {free}，可以运行。</translation>
    </message>
    <message>
        <source>{name} needs about {needed} with {n_ctx} tokens of context but only {free} of memory is free, so close other programs first; a context of {smaller} tokens would fit, or choose a smaller quantisation.</source>
        <translation>{name} 在 {n_ctx} 个词元的上下文下约需 {needed}，但可用内存只有 {free}，请先关闭其他程序；改用 {smaller} 个词元的上下文即可容纳，也可以选择更小的量化版本。</translation>
    </message>
    <message>
        <source>{name} needs about {needed} with {n_ctx} tokens of context but only {free} of memory is free, so close other programs first; choose a smaller quantisation or model (even {least_ctx} tokens of context need {least}).</source>
        <translation>{name} 在 {n_ctx} 个词元的上下文下约需 {needed}，但可用内存只有 {free}，请先关闭其他程序；请选择更小的量化版本或模型（即使只用 {least_ctx} 个词元的上下文也需要 {least}）。</translation>
    </message>
    <message>
        <source>{name} needs about {needed} with {n_ctx} tokens of context, more than this computer&apos;s {total} of memory; a context of {smaller} tokens would fit, or choose a smaller quantisation.</source>
        <translation>{name} 在 {n_ctx} 个词元的上下文下约需 {needed}，超过了这台电脑 {total} 的内存；改用 {smaller} 个词元的上下文即可容纳，也可以选择更小的量化版本。</translation>
    </message>
    <message>
        <source>{name} needs about {needed} with {n_ctx} tokens of context, more than this computer&apos;s {total} of memory; choose a smaller quantisation or model (even {least_ctx} tokens of context need {least}).</source>
        <translation>{name} 在 {n_ctx} 个词元的上下文下约需 {needed}，超过了这台电脑 {total} 的内存；请选择更小的量化版本或模型（即使只用 {least_ctx} 个词元的上下文也需要 {least}）。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; does not say which model architecture it holds, so it cannot be used.</source>
        <translation>“{name}”没有注明模型架构，无法使用。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is a model, not a vision projector; choose the mmproj file made for this model as the projector.</source>
        <translation>“{name}”是模型，不是视觉投影器；请选择为该模型制作的 mmproj 文件作为视觉投影器。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is a Gemma 4 assistant, a small drafter that speeds up a Gemma 4 model and cannot chat on its own; choose the Gemma 4 model itself.</source>
        <translation>“{name}”是 Gemma 4 助手模型，一个用来加速 Gemma 4 的小型草稿模型，不能单独对话；请选择 Gemma 4 模型本身。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; holds a {architecture} model; Gemma Desktop runs Gemma 3, Gemma 3n and Gemma 4 models and their mmproj projectors.</source>
        <translation>“{name}”是 {architecture} 模型；Gemma Desktop 运行的是 Gemma 3、Gemma 3n 和 Gemma 4 模型及其 mmproj 视觉投影器。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is a vision projector (mmproj), not a model; choose the Gemma model file as the model.</source>
        <translation>“{name}”是视觉投影器（mmproj），不是模型；请选择 Gemma 模型文件作为模型。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is a {type} projector, which Gemma Desktop does not run; choose the projector made for this model.</source>
        <translation>“{name}”是 {type} 视觉投影器，Gemma Desktop 无法运行；请选择为该模型制作的视觉投影器。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is a projector of no known type; choose the projector made for this model.</source>
        <translation>“{name}”是未知类型的视觉投影器；请选择为该模型制作的视觉投影器。</translation>
    </message>
    <message>
        <source>The projector {projector} is made for {projector_family} models but {model} is a {model_family} model; choose the projector made for this model.</source>
        <translation>视觉投影器 {projector} 是为 {projector_family} 模型制作的，但 {model} 是 {model_family} 模型；请选择为该模型制作的视觉投影器。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; has no vision encoder, so it cannot read images; choose the projector made for this model.</source>
        <translation>“{name}”没有视觉编码器，无法读取图片；请选择为该模型制作的视觉投影器。</translation>
    </message>
    <message>
        <source>The projector {projector} produces {projector_width}-wide embeddings but model {model} expects {model_width}; choose the projector made for this model.</source>
        <translation>视觉投影器 {projector} 输出的嵌入宽度为 {projector_width}，但模型 {model} 需要 {model_width}；请选择为该模型制作的视觉投影器。</translation>
    </message>
    <message>
        <source>{name} is a text-only model setup: add its mmproj projector (--mmproj) to ask about images.</source>
        <translation>{name} 只配置了文本模型：要询问图片，请添加它的 mmproj 视觉投影器（--mmproj）。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is a Gemma projector without its {tensor} tensor, so it is incomplete or damaged.</source>
        <translation>“{name}”是缺少 {tensor} 张量的 Gemma 视觉投影器，文件不完整或已损坏。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is empty (0 bytes), so it is not a GGUF file.</source>
        <translation>“{name}”是空的（0 字节），不是 GGUF 文件。</translation>
    </message>
    <message>
        <source>The GGUF file &apos;{path}&apos; could not be read: {reason}.</source>
        <translation>无法读取 GGUF 文件“{path}”：{reason}。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is a damaged or incomplete GGUF file (it may not have finished downloading).</source>
        <translation>“{name}”是已损坏或不完整的 GGUF 文件（可能没有下载完）。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is not a GGUF model file (it lacks the GGUF signature).</source>
        <translation>“{name}”不是 GGUF 模型文件（缺少 GGUF 文件标识）。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is GGUF version {version}, which this version of Gemma Desktop cannot read.</source>
        <translation>“{name}”是第 {version} 版 GGUF，这个版本的 Gemma Desktop 无法读取。</translation>
    </message>
    <message>
        <source>No system keyring is available (on Linux, a Secret Service such as GNOME Keyring or KWallet), so the token is kept only until Gemma Desktop closes; to keep one, set HF_TOKEN or run &apos;hf auth login&apos;.</source>
        <translation>没有可用的系统密钥环（在 Linux 上指 GNOME Keyring 或 KWallet 等 Secret Service），访问令牌只保留到 Gemma Desktop 关闭为止；要长期保存，请设置 HF_TOKEN 或运行 “hf auth login”。</translation>
    </message>
    <message>
        <source>The model file of {name} is no longer at {path}; it was moved or deleted, so remove it from the list or import it again from where it is now.</source>
        <translation>{name} 的模型文件已不在 {path}；它已被移动或删除，请把它从列表中移除，或从新位置重新导入。</translation>
    </message>
    <message>
        <source>The vision projector of {name} is no longer at {path}; choose another projector or import it again from where it is now.</source>
        <translation>{name} 的视觉投影器已不在 {path}；请选择其他视觉投影器，或从新位置重新导入。</translation>
    </message>
    <message>
        <source>{id} is in the download catalog but not on this computer; download it with &apos;models download {id}&apos; to see its page.</source>
        <translation>{id} 在下载目录中，但不在这台电脑上；请用 “models download {id}” 下载后再查看它的页面。</translation>
    </message>
    <message>
        <source>There is no local model or GGUF file called &apos;{name}&apos;; run &apos;models list&apos; to see the ids.</source>
        <translation>没有名为“{name}”的本地模型或 GGUF 文件；运行 “models list” 可查看 ID。</translation>
    </message>
    <message>
        <source>&apos;{path}&apos; does not exist.</source>
        <translation>“{path}”不存在。</translation>
    </message>
    <message>
        <source>No GGUF files were found in {folder}.</source>
        <translation>在 {folder} 中没有找到 GGUF 文件。</translation>
    </message>
    <message>
        <source>&apos;{name}&apos; is a vision projector for {width}-wide models and no known model fits it; import its Gemma 3 model too.</source>
        <translation>“{name}”是供宽度为 {width} 的模型使用的视觉投影器，没有已知的模型与之匹配；请同时导入它的 Gemma 3 模型。</translation>
    </message>
    <message>
        <source>Everything in {folder} is already in the list of models.</source>
        <translation>{folder} 中的所有文件都已在模型列表中。</translation>
    </message>
    <message>
        <source>None of the {count} GGUF files in {folder} could be imported. The first: {reason}</source>
        <translation>{folder} 中的 {count} 个 GGUF 文件都无法导入。第一个文件的原因：{reason}</translation>
    </message>
    <message>
        <source>The list of models in {path} is damaged; delete that file and import or download your models again (downloaded files are found and kept).</source>
        <translation>{path} 中的模型列表已损坏；请删除该文件，再重新导入或下载模型（已下载的文件会被找到并保留）。</translation>
    </message>
    <message>
        <source>There is no local model called &apos;{id}&apos;; run &apos;models list&apos; to see them.</source>
        <translation>没有名为“{id}”的本地模型；运行 “models list” 可查看本地模型。</translation>
    </message>
    <message>
        <source>The conversations database at {path} is damaged or is not a Gemma Desktop database, so it was left as it is; move it elsewhere to start a new one, or restore it from a backup.</source>
        <translation>位于 {path} 的对话数据库已损坏，或不是 Gemma Desktop 的数据库，因此未做改动；请把它移到别处以新建数据库，或从备份恢复。</translation>
    </message>
    <message>
        <source>The disk that holds {path} is full, so the conversation could not be saved; free some space and try again.</source>
        <translation>{path} 所在的磁盘已满，无法保存对话；请腾出一些空间后重试。</translation>
    </message>
    <message>
        <source>The conversations database at {path} cannot be written because its folder or disk is read-only; make it writable, or set GEMMA_DESKTOP_HOME to a writable folder.</source>
        <translation>位于 {path} 的对话数据库所在的文件夹或磁盘是只读的，无法写入；请将其设为可写，或把 GEMMA_DESKTOP_HOME 设为一个可写的文件夹。</translation>
    </message>
    <message>
        <source>The conversations database at {path} could not be read or written because of a disk error; check that the disk is connected and has free space.</source>
        <translation>由于磁盘错误，无法读写位于 {path} 的对话数据库；请检查磁盘是否已连接、是否还有可用空间。</translation>
    </message>
    <message>
        <source>The conversations database at {path} could not be opened; check that its folder exists and can be written to.</source>
        <translation>无法打开位于 {path} 的对话数据库；请检查它所在的文件夹是否存在且可写。</translation>
    </message>
    <message>
        <source>The conversations database at {path} is locked by another program; close other copies of Gemma Desktop and try again.</source>
        <translation>位于 {path} 的对话数据库被其他程序锁定；请关闭其他正在运行的 Gemma Desktop 后重试。</translation>
    </message>
    <message>
        <source>Gemma Desktop cannot write to {path} because it is read-only; make it writable, or set GEMMA_DESKTOP_HOME to a writable folder.</source>
        <translation>{path} 是只读的，Gemma Desktop 无法写入；请将其设为可写，或把 GEMMA_DESKTOP_HOME 设为一个可写的文件夹。</translation>
    </message>
    <message>
        <source>The file at {path} belongs to another program, not Gemma Desktop, so it was left as it is; move it elsewhere and Gemma Desktop will start a new database there.</source>
        <translation>位于 {path} 的文件属于其他程序，不是 Gemma Desktop 的，因此未做改动；把它移到别处后，Gemma Desktop 会在这里新建数据库。</translation>
    </message>
    <message>
        <source>The conversations database at {path} was written by a newer version of Gemma Desktop (schema {version}, this one knows up to {known}), so it was left as it is; update Gemma Desktop to open it.</source>
        <translation>位于 {path} 的对话数据库由更新版本的 Gemma Desktop 写入（结构版本 {version}，当前版本最高只支持 {known}），因此未做改动；请更新 Gemma Desktop 后再打开。</translation>
    </message>
    <message>
        <source>The folder {folder} for the conversations database could not be created ({reason}).</source>
        <translation>无法创建存放对话数据库的文件夹 {folder}（{reason}）。</translation>
    </message>
    <message>
        <source>The export could not be written to {path} ({reason}).</source>
        <translation>无法把导出内容写入 {path}（{reason}）。</translation>
    </message>
    <message>
        <source>The attached file {path} is missing, so the conversation cannot be exported with its attachments.</source>
        <translation>附件文件 {path} 不见了，无法连同附件导出这个对话。</translation>
    </message>
    <message>
        <source>The file {path} is {size} bytes, more than the {limit} a conversation export may be, so nothing was imported.</source>
        <translation>文件 {path} 有 {size} 字节，超过了导出对话文件 {limit} 字节的上限，没有导入任何内容。</translation>
    </message>
    <message>
        <source>There is no file at {path}.</source>
        <translation>{path} 处没有文件。</translation>
    </message>
    <message>
        <source>The file {path} could not be read ({reason}).</source>
        <translation>无法读取文件 {path}（{reason}）。</translation>
    </message>
    <message>
        <source>The file {path} is not a conversation exported by Gemma Desktop.</source>
        <translation>文件 {path} 不是 Gemma Desktop 导出的对话。</translation>
    </message>
    <message>
        <source>The file {path} was exported by a newer version of Gemma Desktop (format version {version}); update Gemma Desktop to import it.</source>
        <translation>文件 {path} 由更新版本的 Gemma Desktop 导出（格式版本 {version}）；请更新 Gemma Desktop 后再导入。</translation>
    </message>
    <message>
        <source>The conversation export {path} is damaged ({reason}), so nothing was imported.</source>
        <translation>导出的对话文件 {path} 已损坏（{reason}），没有导入任何内容。</translation>
    </message>
    <message>
        <source>The conversation export {path} has a title of {count} characters, more than the {limit} a title may have, so nothing was imported.</source>
        <translation>导出的对话文件 {path} 的标题有 {count} 个字符，超过了标题 {limit} 个字符的上限，没有导入任何内容。</translation>
    </message>
    <message>
        <source>The conversation export {path} has a system prompt of {count} characters, more than the {limit} a message may have, so nothing was imported.</source>
        <translation>导出的对话文件 {path} 的系统提示词有 {count} 个字符，超过了单条消息 {limit} 个字符的上限，没有导入任何内容。</translation>
    </message>
    <message>
        <source>The conversation export {path} has {count} messages, more than the {limit} a conversation may have, so nothing was imported.</source>
        <translation>导出的对话文件 {path} 有 {count} 条消息，超过了一个对话 {limit} 条的上限，没有导入任何内容。</translation>
    </message>
    <message>
        <source>Message {number} of the conversation export {path} has {count} characters, more than the {limit} a message may have, so nothing was imported.</source>
        <translation>导出的对话文件 {path} 中第 {number} 条消息有 {count} 个字符，超过了单条消息 {limit} 个字符的上限，没有导入任何内容。</translation>
    </message>
    <message>
        <source>Message {number} of the conversation export {path} has {count} attachments, more than the {limit} a message may have, so nothing was imported.</source>
        <translation>导出的对话文件 {path} 中第 {number} 条消息有 {count} 个附件，超过了单条消息 {limit} 个的上限，没有导入任何内容。</translation>
    </message>
    <message>
        <source>Message {number} of the conversation export {path} has a thought of {count} characters, more than the {limit} a message may have, so nothing was imported.</source>
        <translation>导出的对话文件 {path} 中第 {number} 条消息的思考内容有 {count} 个字符，超过了单条消息 {limit} 个字符的上限，没有导入任何内容。</translation>
    </message>
    <message>
        <source>Attachment {index} of message {number} in the conversation export {path} is larger than the {limit} bytes an attached file may have, so nothing was imported.</source>
        <translation>导出的对话文件 {path} 中第 {number} 条消息的第 {index} 个附件超过了附件 {limit} 字节的上限，没有导入任何内容。</translation>
    </message>
    <message>
        <source>The data folder {folder} could not be created ({reason}); set GEMMA_DESKTOP_HOME to a folder that can be.</source>
        <translation>无法创建数据文件夹 {folder}（{reason}）；请把 GEMMA_DESKTOP_HOME 设为一个可以创建的文件夹。</translation>
    </message>
    <message>
        <source>A conversation&apos;s title cannot be empty.</source>
        <translation>对话标题不能为空。</translation>
    </message>
    <message>
        <source>There is no conversation with id {id}; it may have been deleted.</source>
        <translation>没有 ID 为 {id} 的对话；它可能已被删除。</translation>
    </message>
    <message>
        <source>The document &apos;{name}&apos; could not be read again: {reason}.</source>
        <translation>无法再次读取文档“{name}”：{reason}。</translation>
    </message>
    <message>
        <source>The pasted image could not be read.</source>
        <translation>无法读取粘贴的图片。</translation>
    </message>
    <message>
        <source>The image file &apos;{name}&apos; could not be read again: {reason}.</source>
        <translation>无法再次读取图片文件“{name}”：{reason}。</translation>
    </message>
    <message>
        <source>Something went wrong (details are in the log).</source>
        <translation>出了点问题（详见日志）。</translation>
    </message>
    <message>
        <source>The download failed (details are in the log).</source>
        <translation>下载失败（详见日志）。</translation>
    </message>
    <message>
        <source>waiting for another reply to finish</source>
        <translation>正在等待另一条回复完成</translation>
    </message>
    <message>
        <source>The engine could not be asked to count tokens.</source>
        <translation>无法请求引擎统计词元。</translation>
    </message>
    <message>
        <source>The engine could not be started to load the model (see the log).</source>
        <translation>无法启动引擎来加载模型（详见日志）。</translation>
    </message>
    <message>
        <source>The message could not be sent to the engine (see the log).</source>
        <translation>无法把消息发送给引擎（详见日志）。</translation>
    </message>
    <message>
        <source>The engine could not be asked to count tokens (see the log).</source>
        <translation>无法请引擎统计词元（详见日志）。</translation>
    </message>
    <message>
        <source>permission denied</source>
        <translation>权限不足</translation>
    </message>
    <message>
        <source>it does not exist</source>
        <translation>它不存在</translation>
    </message>
    <message>
        <source>it is a folder</source>
        <translation>它是一个文件夹</translation>
    </message>
    <message>
        <source>the disk is full</source>
        <translation>磁盘已满</translation>
    </message>
    <message>
        <source>the disk is read-only</source>
        <translation>磁盘是只读的</translation>
    </message>
    <message>
        <source>the disk could not be read</source>
        <translation>磁盘无法读取</translation>
    </message>
    <message>
        <source>The image file &apos;{path}&apos; was not found.</source>
        <translation>找不到图片文件“{path}”。</translation>
    </message>
    <message>
        <source>The document &apos;{path}&apos; was not found.</source>
        <translation>找不到文档“{path}”。</translation>
    </message>
    <message>
        <source>The GGUF file &apos;{path}&apos; was not found.</source>
        <translation>找不到 GGUF 文件“{path}”。</translation>
    </message>
    <message>
        <source>&apos;{path}&apos; is a folder, not an image file.</source>
        <translation>“{path}”是文件夹，不是图片文件。</translation>
    </message>
    <message>
        <source>&apos;{path}&apos; is a folder, not a document.</source>
        <translation>“{path}”是文件夹，不是文档。</translation>
    </message>
    <message>
        <source>&apos;{path}&apos; is a folder, not a GGUF file.</source>
        <translation>“{path}”是文件夹，不是 GGUF 文件。</translation>
    </message>
    <message>
        <source>The temperature must be between 0 and 5.</source>
        <translation>温度必须在 0 到 5 之间。</translation>
    </message>
    <message>
        <source>The top-k must be between 0 (off) and 1000.</source>
        <translation>Top-k 必须在 0（关闭）到 1000 之间。</translation>
    </message>
    <message>
        <source>The top-p must be above 0 and at most 1.</source>
        <translation>Top-p 必须大于 0 且不超过 1。</translation>
    </message>
    <message>
        <source>The min-p must be at least 0 and below 1.</source>
        <translation>Min-p 必须不小于 0 且小于 1。</translation>
    </message>
    <message>
        <source>The repeat penalty must be between 0.5 and 2.</source>
        <translation>重复惩罚必须在 0.5 到 2 之间。</translation>
    </message>
    <message>
        <source>The seed must be -1 (random) or between 0 and 4294967295.</source>
        <translation>随机种子必须是 -1（随机）或 0 到 4294967295 之间的数。</translation>
    </message>
    <message>
        <source>The max tokens must be between 1 and {limit}.</source>
        <translation>最大词元数必须在 1 到 {limit} 之间。</translation>
    </message>
    <message>
        <source>The pan &amp; scan mode must be default, off, auto or on.</source>
        <translation>平移扫描模式必须是 default、off、auto 或 on。</translation>
    </message>
    <message>
        <source>The context size must be between 256 and 131072 tokens.</source>
        <translation>上下文长度必须在 256 到 131072 个词元之间。</translation>
    </message>
    <message>
        <source>The snapshot cache must be between 0 and 1048576 MiB.</source>
        <translation>对话记忆占用的磁盘空间必须在 0 到 1048576 MiB 之间。</translation>
    </message>
    <message>
        <source>The thread count must be between 1 and 512.</source>
        <translation>线程数必须在 1 到 512 之间。</translation>
    </message>
    <message>
        <source>GPU layers must be -1 (all), 0 (none) or a positive count.</source>
        <translation>GPU 层数必须是 -1（全部）、0（不用）或正整数。</translation>
    </message>
    <message>
        <source>The model was still thinking when the context filled up, so it wrote no answer; start a new chat or choose a larger context size.</source>
        <translation>上下文已满时模型仍在思考，因此没有写出回答；请新建对话，或选择更大的上下文长度。</translation>
    </message>
    <message>
        <source>The model ended its reply after thinking without writing an answer; ask again, or turn thinking off.</source>
        <translation>模型思考之后没有写出回答就结束了；请再问一次，或关闭思考。</translation>
    </message>
    <message>
        <source>The chat template in &apos;{name}&apos; stopped with its own error (&apos;{detail}&apos;), so Gemma Desktop uses its built-in Gemma 3 template instead.</source>
        <translation>“{name}”中的聊天模板自行报错停止（“{detail}”），因此 Gemma Desktop 改用内置的 Gemma 3 模板。</translation>
    </message>
    <message>
        <source>The chat template in &apos;{name}&apos; tried to reach outside its sandbox and was stopped, so Gemma Desktop uses its built-in Gemma 3 template instead.</source>
        <translation>“{name}”中的聊天模板试图越出沙箱，已被阻止，因此 Gemma Desktop 改用内置的 Gemma 3 模板。</translation>
    </message>
    <message>
        <source>The chat template in &apos;{name}&apos; ran for more than {seconds} seconds and was stopped, so Gemma Desktop uses its built-in Gemma 3 template instead.</source>
        <translation>“{name}”中的聊天模板运行超过 {seconds} 秒，已被停止，因此 Gemma Desktop 改用内置的 Gemma 3 模板。</translation>
    </message>
    <message>
        <source>The chat template in &apos;{name}&apos; tried to build more text, numbers or nesting than a chat template may and was stopped, so Gemma Desktop uses its built-in Gemma 3 template instead.</source>
        <translation>“{name}”中的聊天模板试图生成超出限度的文字、数字或嵌套，已被停止，因此 Gemma Desktop 改用内置的 Gemma 3 模板。</translation>
    </message>
    <message>
        <source>The chat template in &apos;{name}&apos; does not work (&apos;{detail}&apos;), so Gemma Desktop uses its built-in Gemma 3 template instead.</source>
        <translation>“{name}”中的聊天模板无法使用（“{detail}”），因此 Gemma Desktop 改用内置的 Gemma 3 模板。</translation>
    </message>
    <message>
        <source>The chat template in &apos;{name}&apos; produced something that is not a prompt for this conversation, so Gemma Desktop uses its built-in Gemma 3 template instead.</source>
        <translation>“{name}”中的聊天模板生成的内容不是这个对话的提示词，因此 Gemma Desktop 改用内置的 Gemma 3 模板。</translation>
    </message>
    <message>
        <source>The chat template in &apos;{name}&apos; stopped with its own error (&apos;{detail}&apos;), and Gemma Desktop has no built-in template for this kind of model, so it cannot be used.</source>
        <translation>“{name}”中的聊天模板自行报错停止（“{detail}”），而 Gemma Desktop 没有这类模型的内置模板，因此无法使用该模型。</translation>
    </message>
    <message>
        <source>The chat template in &apos;{name}&apos; tried to reach outside its sandbox and was stopped, so this model cannot be used.</source>
        <translation>“{name}”中的聊天模板试图越出沙箱，已被阻止，因此无法使用该模型。</translation>
    </message>
    <message>
        <source>The chat template in &apos;{name}&apos; ran for more than {seconds} seconds and was stopped, and Gemma Desktop has no built-in template for this kind of model, so it cannot be used.</source>
        <translation>“{name}”中的聊天模板运行超过 {seconds} 秒，已被停止，而 Gemma Desktop 没有这类模型的内置模板，因此无法使用该模型。</translation>
    </message>
    <message>
        <source>The chat template in &apos;{name}&apos; tried to build more text, numbers or nesting than a chat template may and was stopped, so this model cannot be used.</source>
        <translation>“{name}”中的聊天模板试图生成超出限度的文字、数字或嵌套，已被停止，因此无法使用该模型。</translation>
    </message>
    <message>
        <source>The chat template in &apos;{name}&apos; does not work (&apos;{detail}&apos;), and Gemma Desktop has no built-in template for this kind of model, so it cannot be used.</source>
        <translation>“{name}”中的聊天模板无法使用（“{detail}”），而 Gemma Desktop 没有这类模型的内置模板，因此无法使用该模型。</translation>
    </message>
    <message>
        <source>The chat template in &apos;{name}&apos; produced something that is not a prompt for this conversation, and Gemma Desktop has no built-in template for this kind of model, so it cannot be used.</source>
        <translation>“{name}”中的聊天模板生成的内容不是这个对话的提示词，而 Gemma Desktop 没有这类模型的内置模板，因此无法使用该模型。</translation>
    </message>
    <message>
        <source>The window needs a desktop session, and neither DISPLAY nor WAYLAND_DISPLAY is set; the command-line commands work without one (see &apos;python -m desktop_app --help&apos;).</source>
        <translation>窗口需要桌面会话，但 DISPLAY 和 WAYLAND_DISPLAY 都没有设置；命令行功能不需要桌面会话（见 “python -m desktop_app --help”）。</translation>
    </message>
    <message>
        <source>The window cannot start because Qt needs system libraries this computer lacks ({names}); install them with &apos;sudo apt install {debian}&apos; on Debian or Ubuntu, or &apos;sudo dnf install {fedora}&apos; on Fedora.</source>
        <translation>窗口无法启动，因为 Qt 需要的系统库在这台电脑上缺失（{names}）；在 Debian 或 Ubuntu 上用 “sudo apt install {debian}” 安装，在 Fedora 上用 “sudo dnf install {fedora}” 安装。</translation>
    </message>
    <message>
        <source>The window cannot start because Qt needs the system library {name}, which this computer lacks; install the package that provides it.</source>
        <translation>窗口无法启动，因为 Qt 需要的系统库 {name} 在这台电脑上缺失；请安装提供它的软件包。</translation>
    </message>
    <message>
        <source>The window cannot start because Qt for Python (PySide6) could not be loaded ({reason}).</source>
        <translation>窗口无法启动，因为无法加载 Qt for Python（PySide6）（{reason}）。</translation>
    </message>
    <message>
        <source>No system keyring is available (on Linux, a Secret Service such as GNOME Keyring or KWallet), so API keys are kept only until Gemma Desktop closes; the command line can read one from an environment variable (--api-key-env).</source>
        <translation>没有可用的系统密钥环（在 Linux 上需要 GNOME Keyring 或 KWallet 这类 Secret Service），因此 API 密钥只保留到 Gemma Desktop 关闭为止；命令行可以从环境变量读取密钥（--api-key-env）。</translation>
    </message>
    <message>
        <source>The environment variable {variable} is not set; it should hold the server&apos;s API key.</source>
        <translation>环境变量 {variable} 未设置；它应当存放服务器的 API 密钥。</translation>
    </message>
    <message>
        <source>Checking the server failed (see the log).</source>
        <translation>检查服务器时出错（详见日志）。</translation>
    </message>
    <message>
        <source>No server was chosen for this reply.</source>
        <translation>这条回复没有选择服务器。</translation>
    </message>
    <message>
        <source>No server was chosen for this conversation.</source>
        <translation>这个对话没有选择服务器。</translation>
    </message>
    <message>
        <source>Counting tokens on the server failed (see the log).</source>
        <translation>在服务器上统计词元时出错（详见日志）。</translation>
    </message>
    <message>
        <source>The reply failed inside the app (see the log).</source>
        <translation>回复在应用内部出错（详见日志）。</translation>
    </message>
    <message>
        <source>The model {model} on {server} cannot see images; remove the images or choose a model that can.</source>
        <translation>{server} 上的模型 {model} 无法识别图片；请移除图片，或选择能识别图片的模型。</translation>
    </message>
    <message>
        <source>The server {server} ended the reply without finishing it; what it wrote so far is kept.</source>
        <translation>服务器 {server} 没有写完就结束了回复；已生成的内容已保留。</translation>
    </message>
    <message>
        <source>The server {server} could not be used.</source>
        <translation>无法使用服务器 {server}。</translation>
    </message>
    <message>
        <source>The server {server} sent data that is not a chat reply, so the reply was stopped; what it wrote so far is kept.</source>
        <translation>服务器 {server} 发来的数据不是聊天回复，因此回复已停止；已生成的内容已保留。</translation>
    </message>
    <message>
        <source>The server {server} answered with data this app cannot read; check that {url} is an OpenAI-compatible API.</source>
        <translation>服务器 {server} 返回了本应用无法读取的数据；请检查 {url} 是否为兼容 OpenAI 的 API。</translation>
    </message>
    <message>
        <source>The server {server} sent nothing for {seconds} seconds, so the reply was stopped; what it wrote so far is kept.</source>
        <translation>服务器 {server} 已有 {seconds} 秒没有发来任何内容，因此回复已停止；已生成的内容已保留。</translation>
    </message>
    <message>
        <source>The server {server} accepted the connection but did not answer within {seconds} seconds.</source>
        <translation>服务器 {server} 接受了连接，但在 {seconds} 秒内没有应答。</translation>
    </message>
    <message>
        <source>{host} did not answer the connection in time; check the address and that the server is running and reachable from this computer.</source>
        <translation>{host} 没有及时应答连接；请检查地址，并确认服务器正在运行、可从这台电脑访问。</translation>
    </message>
    <message>
        <source>The server name &apos;{host}&apos; could not be found; check the address and this computer&apos;s network connection.</source>
        <translation>找不到服务器名称“{host}”；请检查地址和这台电脑的网络连接。</translation>
    </message>
    <message>
        <source>The certificate of {host} could not be verified ({reason}); if the server uses its own certificate authority, give that authority&apos;s certificate file.</source>
        <translation>无法验证 {host} 的证书（{reason}）；如果服务器使用自己的证书颁发机构，请提供该机构的证书文件。</translation>
    </message>
    <message>
        <source>A secure (https) connection to {host} could not be made ({reason}); check that the server speaks https at {url}.</source>
        <translation>无法与 {host} 建立安全（https）连接（{reason}）；请确认服务器在 {url} 上提供 https。</translation>
    </message>
    <message>
        <source>Nothing answers at {url}; check that the server is running and that the address and port are right.</source>
        <translation>{url} 没有任何应答；请确认服务器正在运行，且地址和端口正确。</translation>
    </message>
    <message>
        <source>{host} cannot be reached from this computer&apos;s network.</source>
        <translation>从这台电脑的网络无法访问 {host}。</translation>
    </message>
    <message>
        <source>The connection to {server} was lost in the middle of the reply; what it wrote so far is kept.</source>
        <translation>回复途中与 {server} 的连接断开了；已生成的内容已保留。</translation>
    </message>
    <message>
        <source>The server {server} stopped the reply with an error: {detail}; what it wrote so far is kept.</source>
        <translation>服务器 {server} 因出错停止了回复：{detail}；已生成的内容已保留。</translation>
    </message>
    <message>
        <source>The connection to {server} failed during the reply; what it wrote so far is kept.</source>
        <translation>回复期间与 {server} 的连接出错；已生成的内容已保留。</translation>
    </message>
    <message>
        <source>Could not connect to {url} ({failure}).</source>
        <translation>无法连接到 {url}（{failure}）。</translation>
    </message>
    <message>
        <source>The server {server} needs an API key; add one to the server&apos;s settings or give --api-key-env.</source>
        <translation>服务器 {server} 需要 API 密钥；请在该服务器的设置中添加，或使用 --api-key-env。</translation>
    </message>
    <message>
        <source>The server {server} refused the API key (HTTP 401); check the key.</source>
        <translation>服务器 {server} 拒绝了 API 密钥（HTTP 401）；请检查密钥。</translation>
    </message>
    <message>
        <source>The server {server} does not allow this API key to use it (HTTP 403).</source>
        <translation>服务器 {server} 不允许使用这个 API 密钥（HTTP 403）。</translation>
    </message>
    <message>
        <source>No OpenAI-compatible API answers at {url} (HTTP 404); the address usually ends in /v1.</source>
        <translation>{url} 上没有兼容 OpenAI 的 API 应答（HTTP 404）；地址通常以 /v1 结尾。</translation>
    </message>
    <message>
        <source>The server {server} has no model &apos;{model}&apos; (HTTP 404).</source>
        <translation>服务器 {server} 上没有模型“{model}”（HTTP 404）。</translation>
    </message>
    <message>
        <source>The message is too large for the server {server} (HTTP 413); send fewer or smaller images.</source>
        <translation>这条消息对服务器 {server} 来说太大了（HTTP 413）；请少发几张图片，或发送更小的图片。</translation>
    </message>
    <message>
        <source>The server {server} is busy with other requests (HTTP 429); try again in {seconds} seconds.</source>
        <translation>服务器 {server} 正忙于处理其他请求（HTTP 429）；请在 {seconds} 秒后重试。</translation>
    </message>
    <message>
        <source>The server {server} is busy with other requests (HTTP 429); try again in a moment.</source>
        <translation>服务器 {server} 正忙于处理其他请求（HTTP 429）；请稍后重试。</translation>
    </message>
    <message>
        <source>The conversation is longer than the server {server} can read at once ({detail}); start a new conversation or remove some images.</source>
        <translation>对话超出了服务器 {server} 一次能读取的长度（{detail}）；请开始新对话，或移除一些图片。</translation>
    </message>
    <message>
        <source>The server {server} is not ready (HTTP 503: still loading a model, or overloaded); try again in a moment.</source>
        <translation>服务器 {server} 尚未就绪（HTTP 503：仍在加载模型，或负载过高）；请稍后重试。</translation>
    </message>
    <message>
        <source>The server {server} failed while answering (HTTP {status}: {detail}).</source>
        <translation>服务器 {server} 在应答时出错（HTTP {status}：{detail}）。</translation>
    </message>
    <message>
        <source>The server {server} refused the request (HTTP {status}: {detail}).</source>
        <translation>服务器 {server} 拒绝了请求（HTTP {status}：{detail}）。</translation>
    </message>
    <message>
        <source>The certificate authority file &apos;{path}&apos; could not be read as PEM certificates.</source>
        <translation>无法将证书颁发机构文件“{path}”读取为 PEM 证书。</translation>
    </message>
    <message>
        <source>&apos;{url}&apos; is not a server address; it should look like http://host:8080/v1.</source>
        <translation>“{url}”不是服务器地址；格式应类似 http://host:8080/v1。</translation>
    </message>
    <message>
        <source>The answer at {url}/models is not a model list; check that {url} is an OpenAI-compatible API.</source>
        <translation>{url}/models 返回的不是模型列表；请检查 {url} 是否为兼容 OpenAI 的 API。</translation>
    </message>
    <message>
        <source>The server {server} has no model &apos;{model}&apos;; it offers no models at all.</source>
        <translation>服务器 {server} 上没有模型“{model}”；它没有提供任何模型。</translation>
    </message>
    <message>
        <source>The server {server} has no model &apos;{model}&apos;; it offers: {offered}.</source>
        <translation>服务器 {server} 上没有模型“{model}”；它提供的模型有：{offered}。</translation>
    </message>
    <message>
        <source>The server list could not be saved to {path}: {reason}.</source>
        <translation>无法将服务器列表保存到 {path}：{reason}。</translation>
    </message>
    <message>
        <source>The certificate authority file &apos;{path}&apos; was not found.</source>
        <translation>找不到证书颁发机构文件“{path}”。</translation>
    </message>
    <message>
        <source>The port must be between 0 (any free port) and 65535.</source>
        <translation>端口必须在 0（任一空闲端口）到 65535 之间。</translation>
    </message>
    <message>
        <source>Listening on {host} lets other computers reach the model; set a bearer token in the {env} environment variable first.</source>
        <translation>在 {host} 上监听会让其他电脑也能访问模型；请先在环境变量 {env} 中设置 API 密钥（bearer token）。</translation>
    </message>
    <message>
        <source>The bearer token must be at least 16 characters long.</source>
        <translation>API 密钥（bearer token）至少需要 16 个字符。</translation>
    </message>
    <message>
        <source>The request limits must be positive (body and image at least 1 KiB).</source>
        <translation>请求限制必须为正数（请求体和图片至少 1 KiB）。</translation>
    </message>
    <message>
        <source>&apos;{host}&apos; is not an address of this computer.</source>
        <translation>“{host}”不是本机的地址。</translation>
    </message>
    <message>
        <source>Port {port} is already in use; choose another with --port.</source>
        <translation>端口 {port} 已被占用；请用 --port 另选一个端口。</translation>
    </message>
    <message>
        <source>The server cannot listen on {host}:{port}: {reason}.</source>
        <translation>API 服务无法在 {host}:{port} 上监听：{reason}。</translation>
    </message>
</context>
<context>
    <name>Abilities</name>
    <message>
        <source>text only</source>
        <translation>仅文本</translation>
    </message>
    <message>
        <source>text and images</source>
        <translation>文本和图片</translation>
    </message>
    <message>
        <source>text and thinking</source>
        <translation>文本和思考</translation>
    </message>
    <message>
        <source>text, images and thinking</source>
        <translation>文本、图片和思考</translation>
    </message>
</context>
<context>
    <name>ApiServerSwitch</name>
    <message>
        <source>&amp;Serve the model to other programs</source>
        <translation>向其他程序提供模型(&amp;S)</translation>
    </message>
    <message>
        <source>Editors and scripts on this computer can use the loaded model through the OpenAI API.</source>
        <translation>本机上的编辑器和脚本可以通过 OpenAI API 使用已加载的模型。</translation>
    </message>
    <message>
        <source>API server</source>
        <translation>API 服务</translation>
    </message>
    <message>
        <source>API: {url}</source>
        <translation>API：{url}</translation>
    </message>
</context>
<context>
    <name>AttachmentChip</name>
    <message>
        <source>Reading…</source>
        <translation>正在读取…</translation>
    </message>
    <message>
        <source>Attachment {name}</source>
        <translation>附件 {name}</translation>
    </message>
    <message>
        <source>Token cost of {name}</source>
        <translation>{name} 占用的词元</translation>
    </message>
    <message>
        <source>Reading state of {name}</source>
        <translation>{name} 的读取状态</translation>
    </message>
    <message>
        <source>Views of {name}</source>
        <translation>{name} 的视图</translation>
    </message>
    <message>
        <source>Remove {name}</source>
        <translation>移除 {name}</translation>
    </message>
    <message numerus="yes">
        <source>%Ln token(s)</source>
        <translation>
            <numerusform>%Ln 个词元</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>The model sees this image as %Ln token(s).</source>
        <translation>
            <numerusform>模型把这张图片读作 %Ln 个词元。</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln view(s)</source>
        <translation>
            <numerusform>%Ln 个视图</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Pan &amp; Scan: the model sees the whole image and %n crop(s) of it, {tokens} tokens in all. The switch below reads it as one view.</source>
        <translation>
            <numerusform>平移扫描：模型会看到整张图片和它的 %n 个裁切块，共 {tokens} 个词元。下方的开关可改为只读一个视图。</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n view(s), for small text</source>
        <translation>
            <numerusform>%n 个视图，用于看清小字</numerusform>
        </translation>
    </message>
    <message>
        <source>One view</source>
        <translation>一个视图</translation>
    </message>
    <message numerus="yes">
        <source>One view: {one} tokens and one encode. %n views (the whole image and crops of it, for small text): {many} tokens and %n encodes. Click to switch.</source>
        <translation>
            <numerusform>一个视图：{one} 个词元，编码一次。%n 个视图（整张图片加上它的裁切块，用于看清小字）：{many} 个词元，编码 %n 次。点击切换。</numerusform>
        </translation>
    </message>
    <message>
        <source>reading…</source>
        <translation>读取中…</translation>
    </message>
    <message>
        <source>Gemma is reading this image while you write.</source>
        <translation>你输入时，Gemma 正在读取这张图片。</translation>
    </message>
    <message>
        <source>ready</source>
        <translation>已就绪</translation>
    </message>
    <message>
        <source>Gemma has read this image; sending will not wait for it.</source>
        <translation>Gemma 已读完这张图片；发送时无需等待。</translation>
    </message>
    <message numerus="yes">
        <source>%Ln page(s)</source>
        <translation>
            <numerusform>%Ln 页</numerusform>
        </translation>
    </message>
    <message>
        <source>counting…</source>
        <translation>正在统计…</translation>
    </message>
    <message>
        <source>The model&apos;s tokenizer is counting this document.</source>
        <translation>模型的分词器正在统计这份文档。</translation>
    </message>
    <message numerus="yes">
        <source>The model reads this document as %Ln token(s).</source>
        <translation>
            <numerusform>模型把这份文档读作 %Ln 个词元。</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln scanned page(s) are read as images.</source>
        <translation>
            <numerusform>其中 %Ln 页扫描页会作为图片读取。</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>Attachments</name>
    <message>
        <source>pasted image</source>
        <translation>粘贴的图片</translation>
    </message>
    <message>
        <source>&apos;{url}&apos; is not a file on this computer; save it first, then attach the file.</source>
        <translation>“{url}”不是这台电脑上的文件；请先保存，再附加该文件。</translation>
    </message>
</context>
<context>
    <name>CatalogCard</name>
    <message>
        <source>The model family of this build</source>
        <translation>这个版本所属的模型系列</translation>
    </message>
    <message>
        <source>Comes with its vision projector</source>
        <translation>附带视觉投影器</translation>
    </message>
    <message>
        <source>No vision projector</source>
        <translation>没有视觉投影器</translation>
    </message>
    <message>
        <source>gated</source>
        <translation>需授权</translation>
    </message>
    <message>
        <source>Google&apos;s own build: accept the Gemma licence on Hugging Face and sign in above</source>
        <translation>Google 官方版本：请在 Hugging Face 上接受 Gemma 许可协议，并在上方登录</translation>
    </message>
    <message>
        <source>on this computer</source>
        <translation>已在本机</translation>
    </message>
    <message>
        <source>Downloaded already</source>
        <translation>已经下载</translation>
    </message>
    <message>
        <source>Download progress of {name}</source>
        <translation>{name} 的下载进度</translation>
    </message>
    <message>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>暂停</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Stop and delete what was downloaded</source>
        <translation>停止下载并删除已下载的部分</translation>
    </message>
    <message>
        <source>Show</source>
        <translation>查看</translation>
    </message>
    <message>
        <source>{size} download</source>
        <translation>下载 {size}</translation>
    </message>
    <message>
        <source>needs {n} GB of memory</source>
        <translation>需要 {n} GB 内存</translation>
    </message>
    <message>
        <source>fits here, about {rate} tokens/s</source>
        <translation>本机可运行，约 {rate} 词元/秒</translation>
    </message>
    <message>
        <source>tight here, about {rate} tokens/s</source>
        <translation>本机内存紧张，约 {rate} 词元/秒</translation>
    </message>
    <message>
        <source>will not fit here, about {rate} tokens/s</source>
        <translation>本机无法运行，约 {rate} 词元/秒</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>继续</translation>
    </message>
    <message>
        <source>Resume {name}</source>
        <translation>继续下载 {name}</translation>
    </message>
    <message>
        <source>Download {name}</source>
        <translation>下载 {name}</translation>
    </message>
</context>
<context>
    <name>CatalogTab</name>
    <message>
        <source>Ready to download (ggml-org builds, no account needed)</source>
        <translation>可直接下载（ggml-org 版本，无需账号）</translation>
    </message>
    <message>
        <source>Google&apos;s own builds (gated: accept the licence and sign in)</source>
        <translation>Google 官方版本（需授权：请接受许可协议并登录）</translation>
    </message>
</context>
<context>
    <name>ChatSession</name>
    <message>
        <source>image {n}</source>
        <translation>图片 {n}</translation>
    </message>
    <message numerus="yes">
        <source>%n earlier attachment(s) of this conversation could not be read and were left out.</source>
        <translation>
            <numerusform>这个对话中有 %n 个较早的附件无法读取，已略去。</numerusform>
        </translation>
    </message>
    <message>
        <source>This reply was cut short by an error.</source>
        <translation>这条回复因出错而中断。</translation>
    </message>
    <message>
        <source>Image</source>
        <translation>图片</translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message>
        <source>Conversation</source>
        <translation>对话</translation>
    </message>
    <message numerus="yes">
        <source>Gemma sees the first exchange and what follows this line; the %n message(s) between them no longer fit its context.</source>
        <translation>
            <numerusform>Gemma 能看到第一轮问答和这条线之后的内容；两者之间的 %n 条消息已超出它的上下文。</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <source>Editing your last message: sending replaces it and its reply.</source>
        <translation>正在编辑你的上一条消息：发送后会替换它及其回复。</translation>
    </message>
    <message>
        <source>Cancel editing</source>
        <translation>取消编辑</translation>
    </message>
    <message>
        <source>Attachment problem</source>
        <translation>附件问题</translation>
    </message>
    <message>
        <source>Dismiss this message</source>
        <translation>关闭这条提示</translation>
    </message>
    <message>
        <source>Attach…</source>
        <translation>附加…</translation>
    </message>
    <message>
        <source>Attach images or documents</source>
        <translation>附加图片或文档</translation>
    </message>
    <message>
        <source>Message Gemma, or drop an image or a document here</source>
        <translation>给 Gemma 发消息，或把图片、文档拖到这里</translation>
    </message>
    <message>
        <source>Enter sends, Shift+Enter starts a new line. Drop or paste images and documents (PDF, Word, text, code) to attach them.</source>
        <translation>按 Enter 发送，Shift+Enter 换行。拖入或粘贴图片和文档（PDF、Word、文本、代码）即可附加。</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>消息</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <source>Send message</source>
        <translation>发送消息</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Stop the reply, keeping what was written (Esc)</source>
        <translation>停止回复，保留已生成的内容（Esc）</translation>
    </message>
    <message>
        <source>Stop the reply</source>
        <translation>停止回复</translation>
    </message>
    <message>
        <source>Send the message (Enter)</source>
        <translation>发送消息（Enter）</translation>
    </message>
    <message>
        <source>Attach images or documents from files</source>
        <translation>从文件附加图片或文档</translation>
    </message>
    <message>
        <source>Attach documents from files (images need a vision projector)</source>
        <translation>从文件附加文档（图片需要视觉投影器）</translation>
    </message>
    <message>
        <source>Images and documents ({all});;Documents ({documents});;Images ({images});;All files (*)</source>
        <translation>图片和文档 ({all});;文档 ({documents});;图片 ({images});;所有文件 (*)</translation>
    </message>
    <message>
        <source>Pages {numbers} of &apos;{name}&apos; are scans without text; load a model with a vision projector to read them. The model gets the other pages.</source>
        <translation>“{name}”的第 {numbers} 页是没有文字的扫描页；要读取它们，请加载带视觉投影器的模型。其余页面会交给模型。</translation>
    </message>
</context>
<context>
    <name>ConversationList</name>
    <message>
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <source>Start a new conversation (Ctrl+N)</source>
        <translation>开始新对话（Ctrl+N）</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>搜索对话</translation>
    </message>
    <message>
        <source>Conversations</source>
        <translation>对话列表</translation>
    </message>
    <message>
        <source>Rename</source>
        <translation>重命名</translation>
    </message>
    <message>
        <source>Delete…</source>
        <translation>删除…</translation>
    </message>
    <message>
        <source>Last activity {when}</source>
        <translation>最近活动：{when}</translation>
    </message>
    <message>
        <source>New conversation</source>
        <translation>新对话</translation>
    </message>
</context>
<context>
    <name>DownloadQueue</name>
    <message>
        <source>Download paused; resume it to continue where it stopped.</source>
        <translation>下载已暂停；继续下载即可从中断处接着下。</translation>
    </message>
</context>
<context>
    <name>DownloadSource</name>
    <message>
        <source>Download source</source>
        <translation>下载来源</translation>
    </message>
    <message>
        <source>Mirror address</source>
        <translation>镜像站地址</translation>
    </message>
    <message>
        <source>Use this mirror</source>
        <translation>使用此镜像</translation>
    </message>
    <message>
        <source>Use Hugging Face</source>
        <translation>改用 Hugging Face</translation>
    </message>
    <message>
        <source>Where Hugging Face is slow or out of reach, downloads can come from a mirror that serves its files, such as https://hf-mirror.com. Sizes and checksums are checked the same way, and a paused download resumes from either.</source>
        <translation>如果 Hugging Face 访问缓慢或无法访问，可以改从提供相同文件的镜像站下载，例如 https://hf-mirror.com。文件大小和校验值照常检查，暂停的下载也可以从任一来源继续。</translation>
    </message>
    <message>
        <source>Downloads come from the mirror {address}.</source>
        <translation>当前从镜像站 {address} 下载。</translation>
    </message>
    <message>
        <source>Downloads come from Hugging Face.</source>
        <translation>当前从 Hugging Face 下载。</translation>
    </message>
</context>
<context>
    <name>Downloads</name>
    <message>
        <source>{done} of {total}</source>
        <translation>{done} / {total}</translation>
    </message>
    <message>
        <source>Queued behind the download in progress</source>
        <translation>正在排队，等待当前下载完成</translation>
    </message>
    <message>
        <source>Paused</source>
        <translation>已暂停</translation>
    </message>
    <message>
        <source>Asking {source} for the files…</source>
        <translation>正在向 {source} 查询文件…</translation>
    </message>
    <message>
        <source>Verifying {file}</source>
        <translation>正在校验 {file}</translation>
    </message>
    <message>
        <source>Downloading {file} from {source}</source>
        <translation>正在从 {source} 下载 {file}</translation>
    </message>
    <message>
        <source>{speed}/s</source>
        <translation>{speed}/秒</translation>
    </message>
    <message>
        <source>about %n min left</source>
        <translation>剩余约 %n 分钟</translation>
    </message>
    <message>
        <source>less than a minute left</source>
        <translation>剩余不到一分钟</translation>
    </message>
</context>
<context>
    <name>FirstRunPanel</name>
    <message>
        <source>Welcome to Gemma Desktop</source>
        <translation>欢迎使用 Gemma Desktop</translation>
    </message>
    <message>
        <source>Chat with Gemma 3 on this computer, offline, about text and images. It needs a Gemma 3 model file (GGUF) and, to see images, its vision projector.</source>
        <translation>在这台电脑上离线与 Gemma 3 对话，文字、图片都能聊。你需要一个 Gemma 3 模型文件（GGUF）；若要让它看图，还需要对应的视觉投影器。</translation>
    </message>
    <message>
        <source>Download progress</source>
        <translation>下载进度</translation>
    </message>
    <message>
        <source>Download the recommended model</source>
        <translation>下载推荐的模型</translation>
    </message>
    <message>
        <source>Pause download</source>
        <translation>暂停下载</translation>
    </message>
    <message>
        <source>Pause the download</source>
        <translation>暂停下载</translation>
    </message>
    <message>
        <source>Open a model file…</source>
        <translation>打开模型文件…</translation>
    </message>
    <message>
        <source>Open a model file</source>
        <translation>打开模型文件</translation>
    </message>
    <message>
        <source>Choose a Gemma .gguf file you already have (Gemma 3, 3n or 4; Ctrl+O); its projector is found beside it</source>
        <translation>选择你已有的 Gemma .gguf 文件（Gemma 3、3n 或 4；Ctrl+O）；同一文件夹中的视觉投影器会被自动找到</translation>
    </message>
    <message>
        <source>You can also drop a .gguf file on this window.</source>
        <translation>也可以把 .gguf 文件直接拖到这个窗口上。</translation>
    </message>
    <message>
        <source>See all models…</source>
        <translation>查看所有模型…</translation>
    </message>
    <message>
        <source>Every Gemma 3 build on offer, and the models on this computer</source>
        <translation>所有可下载的 Gemma 3 版本，以及这台电脑上已有的模型</translation>
    </message>
    <message>
        <source>Recommended for this computer: {name}, a {size} download, expected to write about {speed} tokens a second here (on the CPU). {verdict}</source>
        <translation>推荐这台电脑使用：{name}，下载大小 {size}，在本机（CPU）上预计每秒约生成 {speed} 个词元。{verdict}</translation>
    </message>
    <message>
        <source>Recommended for this computer: {name}, a {size} download, expected to write about {speed} tokens a second here (on the GPU). {verdict}</source>
        <translation>推荐这台电脑使用：{name}，下载大小 {size}，在本机（GPU）上预计每秒约生成 {speed} 个词元。{verdict}</translation>
    </message>
    <message>
        <source>Download {name}</source>
        <translation>下载 {name}</translation>
    </message>
    <message>
        <source>Resume download</source>
        <translation>继续下载</translation>
    </message>
    <message>
        <source>Downloaded from {source}; loading {name}…</source>
        <translation>已从 {source} 下载完成，正在加载 {name}…</translation>
    </message>
</context>
<context>
    <name>HubSignIn</name>
    <message>
        <source>Hugging Face sign-in, for Google&apos;s gated builds</source>
        <translation>登录 Hugging Face（用于 Google 的需授权版本）</translation>
    </message>
    <message>
        <source>Sign-in status</source>
        <translation>登录状态</translation>
    </message>
    <message>
        <source>Paste a Hugging Face access token (hf_…)</source>
        <translation>粘贴 Hugging Face 访问令牌（hf_…）</translation>
    </message>
    <message>
        <source>Hugging Face token</source>
        <translation>Hugging Face 访问令牌</translation>
    </message>
    <message>
        <source>Check and save</source>
        <translation>检查并保存</translation>
    </message>
    <message>
        <source>Forget token</source>
        <translation>忘记令牌</translation>
    </message>
    <message>
        <source>Checking the token with Hugging Face…</source>
        <translation>正在向 Hugging Face 检查访问令牌…</translation>
    </message>
    <message>
        <source>Not signed in. The builds from ggml-org need no account. Google&apos;s own (gated) builds need a free Hugging Face account: accept the Gemma licence on the model&apos;s page, create a &quot;Read&quot; token at &lt;a href=&quot;{page}&quot;&gt;{page}&lt;/a&gt; and paste it here.</source>
        <translation>尚未登录。ggml-org 的版本无需账号。Google 官方（需授权）版本需要一个免费的 Hugging Face 账号：先在模型页面接受 Gemma 许可协议，再到 &lt;a href=&quot;{page}&quot;&gt;{page}&lt;/a&gt; 创建一个“Read”权限的访问令牌，粘贴到这里。</translation>
    </message>
    <message>
        <source>Gated downloads use the token saved in the system keyring; paste another token to replace it.</source>
        <translation>需授权的下载使用保存在系统密钥环中的访问令牌；粘贴新的令牌即可替换。</translation>
    </message>
    <message>
        <source>Gated downloads use the token entered in this session (no keyring keeps it); paste another token to replace it.</source>
        <translation>需授权的下载使用本次运行中输入的访问令牌（没有密钥环保存它）；粘贴新的令牌即可替换。</translation>
    </message>
    <message>
        <source>Gated downloads use the token in HF_TOKEN; paste another token to replace it.</source>
        <translation>需授权的下载使用 HF_TOKEN 中的访问令牌；粘贴新的令牌即可替换。</translation>
    </message>
    <message>
        <source>Gated downloads use huggingface-hub&apos;s own login (&apos;hf auth login&apos;); paste another token to replace it.</source>
        <translation>需授权的下载使用 huggingface-hub 自己的登录信息（“hf auth login”）；粘贴新的令牌即可替换。</translation>
    </message>
    <message>
        <source>Signed in as {user}; the token is kept in the system keyring.</source>
        <translation>已登录为 {user}；访问令牌保存在系统密钥环中。</translation>
    </message>
    <message>
        <source>Signed in as {user}; the token is kept only until Gemma Desktop closes, as there is no system keyring.</source>
        <translation>已登录为 {user}；由于没有系统密钥环，访问令牌只保留到 Gemma Desktop 关闭为止。</translation>
    </message>
    <message>
        <source>This account has not accepted Google&apos;s Gemma licence yet for {links}: accept it there with the same account, then download.</source>
        <translation>该账号尚未接受 {links} 的 Google Gemma 许可协议：请用同一账号在那里接受后再下载。</translation>
    </message>
    <message>
        <source>Every gated build in the catalog is open to this account.</source>
        <translation>模型目录中所有需授权的版本都已向该账号开放。</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>No model</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>Model (opens the Models page)</source>
        <translation>模型（打开“模型”页面）</translation>
    </message>
    <message>
        <source>Backend</source>
        <translation>后端</translation>
    </message>
    <message>
        <source>State</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Speed of the last reply</source>
        <translation>上一条回复的速度</translation>
    </message>
    <message>
        <source>Context used</source>
        <translation>已用上下文</translation>
    </message>
    <message>
        <source>Unencrypted</source>
        <translation>未加密</translation>
    </message>
    <message>
        <source>Connection warning</source>
        <translation>连接警告</translation>
    </message>
    <message>
        <source>Loading</source>
        <translation>加载中</translation>
    </message>
    <message>
        <source>Cancel loading the model</source>
        <translation>取消加载模型</translation>
    </message>
    <message>
        <source>Cancel loading</source>
        <translation>取消加载</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;New chat</source>
        <translation>新对话(&amp;N)</translation>
    </message>
    <message>
        <source>&amp;Open model…</source>
        <translation>打开模型(&amp;O)…</translation>
    </message>
    <message>
        <source>Choose vision &amp;projector…</source>
        <translation>选择视觉投影器(&amp;P)…</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <source>&amp;Chat</source>
        <translation>对话(&amp;C)</translation>
    </message>
    <message>
        <source>&amp;Stop reply</source>
        <translation>停止回复(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Focus message box</source>
        <translation>转到消息框(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Regenerate last reply</source>
        <translation>重新生成上一条回复(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Edit last message</source>
        <translation>编辑上一条消息(&amp;E)</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <source>&amp;Models</source>
        <translation>模型(&amp;M)</translation>
    </message>
    <message>
        <source>&amp;Settings</source>
        <translation>设置(&amp;S)</translation>
    </message>
    <message>
        <source>Main</source>
        <translation>主工具栏</translation>
    </message>
    <message>
        <source>Runs on</source>
        <translation>运行于</translation>
    </message>
    <message>
        <source>&amp;Server</source>
        <translation>服务(&amp;S)</translation>
    </message>
    <message>
        <source>Stop the reply before moving the conversation.</source>
        <translation>请先停止回复，再移动这个对话。</translation>
    </message>
    <message>
        <source>{model} on {server} cannot see images; choose a model that can (Runs on).</source>
        <translation>{server} 上的 {model} 无法识别图片；请选择能识别图片的模型（运行于）。</translation>
    </message>
    <message>
        <source>{model} on {server}</source>
        <translation>{server} 上的 {model}</translation>
    </message>
    <message>
        <source>New conversation</source>
        <translation>新对话</translation>
    </message>
    <message>
        <source>Delete conversation</source>
        <translation>删除对话</translation>
    </message>
    <message>
        <source>Delete “{title}” and its images? This cannot be undone.</source>
        <translation>删除“{title}”及其图片？此操作无法撤销。</translation>
    </message>
    <message>
        <source>Use a context of {n} tokens</source>
        <translation>使用 {n} 个词元的上下文</translation>
    </message>
    <message numerus="yes">
        <source>Send the first %n page(s)</source>
        <translation>
            <numerusform>发送前 %n 页</numerusform>
        </translation>
    </message>
    <message>
        <source>Generating… ({phase})</source>
        <translation>正在生成…（{phase}）</translation>
    </message>
    <message>
        <source>{rate} tok/s</source>
        <translation>{rate} 词元/秒</translation>
    </message>
    <message>
        <source>Context {used} / {size} (+{attached} attached)</source>
        <translation>上下文 {used} / {size}（附件另占 {attached}）</translation>
    </message>
    <message>
        <source>Context {used} / {size}</source>
        <translation>上下文 {used} / {size}</translation>
    </message>
    <message>
        <source>Tokens of this conversation the model holds, of its context size</source>
        <translation>模型当前容纳的本对话词元数 / 上下文长度</translation>
    </message>
    <message>
        <source>GGUF models (*.gguf);;All files (*)</source>
        <translation>GGUF 模型 (*.gguf);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Open a Gemma model</source>
        <translation>打开 Gemma 模型</translation>
    </message>
    <message>
        <source>Choose the vision projector (mmproj) for {name}</source>
        <translation>为 {name} 选择视觉投影器（mmproj）</translation>
    </message>
    <message>
        <source>GGUF projectors (*.gguf);;All files (*)</source>
        <translation>GGUF 视觉投影器 (*.gguf);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Models on this computer: {names}.</source>
        <translation>这台电脑上的模型：{names}。</translation>
    </message>
    <message>
        <source>There is no other model on this computer yet.</source>
        <translation>这台电脑上还没有其他模型。</translation>
    </message>
    <message>
        <source>Choose a model…</source>
        <translation>选择模型…</translation>
    </message>
    <message>
        <source>Checking {name}…</source>
        <translation>正在检查 {name}…</translation>
    </message>
    <message>
        <source>No vision projector that fits {name} was found in its folder, so images are off. Choose its mmproj file to ask about images.</source>
        <translation>在 {name} 所在的文件夹中没有找到匹配的视觉投影器，因此无法看图。要询问图片，请选择它的 mmproj 文件。</translation>
    </message>
    <message>
        <source>Choose projector…</source>
        <translation>选择视觉投影器…</translation>
    </message>
    <message>
        <source>Try again</source>
        <translation>重试</translation>
    </message>
    <message>
        <source>Generating…</source>
        <translation>正在生成…</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>正在加载…</translation>
    </message>
    <message>
        <source>Ready</source>
        <translation>就绪</translation>
    </message>
    <message>
        <source>Error</source>
        <translation>出错</translation>
    </message>
    <message>
        <source>{model} + {mmproj}</source>
        <translation>{model} + {mmproj}</translation>
    </message>
    <message>
        <source>{model} (text only)</source>
        <translation>{model}（仅文本）</translation>
    </message>
</context>
<context>
    <name>MessageWidget</name>
    <message>
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <source>Gemma</source>
        <translation>Gemma</translation>
    </message>
    <message>
        <source>Edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <source>Edit this message and send it again</source>
        <translation>编辑这条消息并重新发送</translation>
    </message>
    <message>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <source>Write this reply again</source>
        <translation>重新生成这条回复</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Copy this message&apos;s text</source>
        <translation>复制这条消息的文字</translation>
    </message>
    <message>
        <source>Attached document {name}</source>
        <translation>附加的文档 {name}</translation>
    </message>
    <message>
        <source>Show or hide what the model thought before answering</source>
        <translation>显示或隐藏模型在回答前的思考</translation>
    </message>
    <message>
        <source>What the model thought</source>
        <translation>模型的思考</translation>
    </message>
    <message>
        <source>Reply text</source>
        <translation>回复内容</translation>
    </message>
    <message>
        <source>Your message</source>
        <translation>你的消息</translation>
    </message>
    <message>
        <source>Retry</source>
        <translation>重试</translation>
    </message>
    <message>
        <source>Retry this reply</source>
        <translation>重试这条回复</translation>
    </message>
    <message>
        <source>Thinking…</source>
        <translation>正在思考…</translation>
    </message>
    <message>
        <source>Thinking</source>
        <translation>思考</translation>
    </message>
    <message>
        <source>Writing…</source>
        <translation>正在生成…</translation>
    </message>
    <message>
        <source>first token {s} s</source>
        <translation>首个词元 {s} 秒</translation>
    </message>
    <message>
        <source>{rate} tokens/s</source>
        <translation>{rate} 词元/秒</translation>
    </message>
    <message numerus="yes">
        <source>%Ln token(s)</source>
        <translation>
            <numerusform>%Ln 个词元</numerusform>
        </translation>
    </message>
    <message>
        <source>{n} of them thinking</source>
        <translation>其中 {n} 个用于思考</translation>
    </message>
    <message>
        <source>stopped at the token limit</source>
        <translation>已达最大词元数，停止</translation>
    </message>
    <message>
        <source>stopped: the context window is full</source>
        <translation>已停止：上下文窗口已满</translation>
    </message>
    <message>
        <source>stopped by you</source>
        <translation>已被你停止</translation>
    </message>
    <message>
        <source>cut short: the engine stopped</source>
        <translation>已中断：引擎停止了</translation>
    </message>
    <message>
        <source>cut short by an error</source>
        <translation>因出错而中断</translation>
    </message>
    <message>
        <source>cut short: the app closed while writing</source>
        <translation>已中断：生成时应用被关闭</translation>
    </message>
    <message>
        <source>Time to first token: {s} s</source>
        <translation>首个词元用时：{s} 秒</translation>
    </message>
    <message>
        <source>Speed: {rate} tokens/s</source>
        <translation>速度：{rate} 词元/秒</translation>
    </message>
    <message>
        <source>Reply tokens: {n}</source>
        <translation>回复词元：{n}</translation>
    </message>
    <message>
        <source>Prompt tokens: {n} ({cached} reused from cache)</source>
        <translation>提示词元：{n}（其中 {cached} 个取自缓存）</translation>
    </message>
    <message>
        <source>Image tokens: {n}, encoded in {s} s</source>
        <translation>图片词元：{n}，编码用时 {s} 秒</translation>
    </message>
    <message>
        <source>Model load: {s} s</source>
        <translation>模型加载：{s} 秒</translation>
    </message>
    <message>
        <source>{name}: click to view it larger</source>
        <translation>{name}：点击查看大图</translation>
    </message>
    <message>
        <source>Image {name}</source>
        <translation>图片 {name}</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>正在加载…</translation>
    </message>
</context>
<context>
    <name>ModelController</name>
    <message>
        <source>Stop the reply before loading another model.</source>
        <translation>请先停止回复，再加载其他模型。</translation>
    </message>
    <message>
        <source>This conversation was held with {name}, which is no longer at {path}; the current model answers instead.</source>
        <translation>这个对话原本使用的是 {name}，但它已不在 {path}；将改由当前模型回答。</translation>
    </message>
    <message>
        <source>This conversation was held with {name}, which is no longer at {path}; choose another model to go on.</source>
        <translation>这个对话原本使用的是 {name}，但它已不在 {path}；请选择其他模型继续。</translation>
    </message>
    <message>
        <source>Open a model first (Ctrl+O); your message is kept.</source>
        <translation>请先打开模型（Ctrl+O）；你的消息已保留。</translation>
    </message>
    <message>
        <source>The model is not loaded (see the notice above); your message is kept.</source>
        <translation>模型没有加载（见上方提示）；你的消息已保留。</translation>
    </message>
    <message>
        <source>{name} is loaded without a vision projector, so it cannot see images; use File ▸ Choose vision projector… to add its mmproj file.</source>
        <translation>{name} 加载时没有视觉投影器，因此看不到图片；请通过“文件 ▸ 选择视觉投影器…”添加它的 mmproj 文件。</translation>
    </message>
    <message>
        <source>Loading {name} was cancelled.</source>
        <translation>已取消加载 {name}。</translation>
    </message>
</context>
<context>
    <name>ModelDetails</name>
    <message>
        <source>Loading progress</source>
        <translation>加载进度</translation>
    </message>
    <message>
        <source>Use for this chat</source>
        <translation>用于当前对话</translation>
    </message>
    <message>
        <source>Load this model now; the open conversation goes on with it</source>
        <translation>立即加载这个模型；当前对话将改用它继续</translation>
    </message>
    <message>
        <source>Use for new chats</source>
        <translation>用于新对话</translation>
    </message>
    <message>
        <source>New chats start with this model; conversations held with another keep theirs</source>
        <translation>新对话将使用这个模型；用其他模型进行的对话保持不变</translation>
    </message>
    <message>
        <source>Cancel loading</source>
        <translation>取消加载</translation>
    </message>
    <message>
        <source>Choose projector…</source>
        <translation>选择视觉投影器…</translation>
    </message>
    <message>
        <source>Pair another vision projector (mmproj) with this model</source>
        <translation>为这个模型配对另一个视觉投影器（mmproj）</translation>
    </message>
    <message>
        <source>Show in folder</source>
        <translation>在文件夹中显示</translation>
    </message>
    <message>
        <source>Remove…</source>
        <translation>移除…</translation>
    </message>
    <message>
        <source>Architecture</source>
        <translation>架构</translation>
    </message>
    <message>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <source>Quantisation</source>
        <translation>量化</translation>
    </message>
    <message>
        <source>File size</source>
        <translation>文件大小</translation>
    </message>
    <message>
        <source>Trained context</source>
        <translation>训练上下文</translation>
    </message>
    <message>
        <source>Layers</source>
        <translation>层数</translation>
    </message>
    <message>
        <source>Chat template</source>
        <translation>聊天模板</translation>
    </message>
    <message>
        <source>Licence</source>
        <translation>许可证</translation>
    </message>
    <message>
        <source>Can do</source>
        <translation>能力</translation>
    </message>
    <message>
        <source>Vision projector</source>
        <translation>视觉投影器</translation>
    </message>
    <message>
        <source>Memory here</source>
        <translation>本机内存</translation>
    </message>
    <message>
        <source>Expected speed</source>
        <translation>预计速度</translation>
    </message>
    <message>
        <source>{field}:</source>
        <translation>{field}：</translation>
    </message>
    <message>
        <source>No model chosen</source>
        <translation>未选择模型</translation>
    </message>
    <message>
        <source>Choose a model on the left, download one from the catalog, or add a GGUF file you have.</source>
        <translation>请在左侧选择一个模型、从模型目录下载，或添加你已有的 GGUF 文件。</translation>
    </message>
    <message>
        <source>unknown</source>
        <translation>未知</translation>
    </message>
    <message numerus="yes">
        <source>%Ln token(s)</source>
        <translation>
            <numerusform>%Ln 个词元</numerusform>
        </translation>
    </message>
    <message>
        <source>{layers}, with a sliding window of {window} tokens</source>
        <translation>{layers}，滑动窗口为 {window} 个词元</translation>
    </message>
    <message>
        <source>its own</source>
        <translation>自带</translation>
    </message>
    <message>
        <source>none; the built-in Gemma 3 template is used</source>
        <translation>无；使用内置的 Gemma 3 模板</translation>
    </message>
    <message>
        <source>not stated in the file</source>
        <translation>文件中未注明</translation>
    </message>
    <message>
        <source>none, so it cannot see images</source>
        <translation>无，因此看不到图片</translation>
    </message>
    <message>
        <source>{name}: {size} px images, {tokens} tokens each; encoder of {params} parameters, {bytes}</source>
        <translation>{name}：{size} 像素图片，每张 {tokens} 个词元；编码器参数量 {params}，大小 {bytes}</translation>
    </message>
    <message>
        <source>{name}: images at their own size, {low} to {high} tokens each; encoder of {params} parameters, {bytes}</source>
        <translation>{name}：图片保持原尺寸，每张 {low} 到 {high} 个词元；编码器参数量 {params}，大小 {bytes}</translation>
    </message>
    <message>
        <source>about {rate} tokens a second on the CPU, at the start of a conversation</source>
        <translation>在 CPU 上约每秒 {rate} 个词元（对话开始时）</translation>
    </message>
    <message>
        <source>about {rate} tokens a second on the GPU ({device}), at the start of a conversation</source>
        <translation>在 GPU（{device}）上约每秒 {rate} 个词元（对话开始时）</translation>
    </message>
    <message>
        <source>Downloaded by Gemma Desktop from {source} into {folder}</source>
        <translation>由 Gemma Desktop 从 {source} 下载到 {folder}</translation>
    </message>
    <message>
        <source>Downloaded by Gemma Desktop into {folder}</source>
        <translation>由 Gemma Desktop 下载到 {folder}</translation>
    </message>
    <message>
        <source>Imported; the file stays at {path}</source>
        <translation>已导入；文件仍在 {path}</translation>
    </message>
</context>
<context>
    <name>ModelsPage</name>
    <message>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Back to chat</source>
        <translation>返回对话</translation>
    </message>
    <message>
        <source>Back to the conversation (Esc)</source>
        <translation>返回对话（Esc）</translation>
    </message>
    <message>
        <source>Models on this computer</source>
        <translation>这台电脑上的模型</translation>
    </message>
    <message>
        <source>Add a GGUF file…</source>
        <translation>添加 GGUF 文件…</translation>
    </message>
    <message>
        <source>Use a Gemma 3 GGUF (and its projector) where it is; nothing is copied</source>
        <translation>直接使用原位置的 Gemma 3 GGUF（及其视觉投影器），不会复制任何文件</translation>
    </message>
    <message>
        <source>On this computer</source>
        <translation>本机</translation>
    </message>
    <message>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <source>On this computer ({n})</source>
        <translation>本机（{n}）</translation>
    </message>
    <message>
        <source>missing: the file was moved or deleted</source>
        <translation>文件丢失：已被移动或删除</translation>
    </message>
    <message>
        <source>{file} · its projector is missing</source>
        <translation>{file} · 视觉投影器丢失</translation>
    </message>
    <message>
        <source>text and images</source>
        <translation>文本和图片</translation>
    </message>
    <message>
        <source>text only</source>
        <translation>仅文本</translation>
    </message>
    <message>
        <source>downloaded</source>
        <translation>已下载</translation>
    </message>
    <message>
        <source>imported</source>
        <translation>已导入</translation>
    </message>
    <message>
        <source>{name} (in use)</source>
        <translation>{name}（使用中）</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>正在加载…</translation>
    </message>
    <message>
        <source>In use now</source>
        <translation>正在使用</translation>
    </message>
    <message>
        <source>In use now, without its projector</source>
        <translation>正在使用，未带视觉投影器</translation>
    </message>
    <message>
        <source>It could not be loaded (see the notice in the chat).</source>
        <translation>无法加载（见对话中的提示）。</translation>
    </message>
    <message>
        <source>Not loaded</source>
        <translation>未加载</translation>
    </message>
    <message>
        <source>new chats start with it</source>
        <translation>新对话使用它</translation>
    </message>
    <message>
        <source>New chats start with {name} from now on.</source>
        <translation>从现在起，新对话将使用 {name}。</translation>
    </message>
    <message>
        <source>Add a Gemma 3 model</source>
        <translation>添加 Gemma 3 模型</translation>
    </message>
    <message>
        <source>GGUF models (*.gguf);;All files (*)</source>
        <translation>GGUF 模型 (*.gguf);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Added {names}; the files stay where they are.</source>
        <translation>已添加 {names}；文件仍保留在原位置。</translation>
    </message>
    <message>
        <source>Choose the vision projector (mmproj) for {name}</source>
        <translation>为 {name} 选择视觉投影器（mmproj）</translation>
    </message>
    <message>
        <source>GGUF projectors (*.gguf);;All files (*)</source>
        <translation>GGUF 视觉投影器 (*.gguf);;所有文件 (*)</translation>
    </message>
    <message>
        <source>{name} now sees images through {projector}.</source>
        <translation>{name} 现在通过 {projector} 看图。</translation>
    </message>
    <message>
        <source>{name} is the model in use; use another one before removing it.</source>
        <translation>{name} 正在使用中；请先换用其他模型再移除它。</translation>
    </message>
    <message>
        <source>Delete {name}? Its files ({size}) are deleted from Gemma Desktop&apos;s models folder; downloading it again takes as long as the first time.</source>
        <translation>删除 {name}？它的文件（{size}）将从 Gemma Desktop 的模型文件夹中删除；再次下载所需的时间和第一次一样长。</translation>
    </message>
    <message>
        <source>Remove {name} from the list? The file is not deleted; it stays at {path}.</source>
        <translation>把 {name} 从列表中移除？文件不会被删除，仍保留在 {path}。</translation>
    </message>
    <message>
        <source>Remove model</source>
        <translation>移除模型</translation>
    </message>
    <message>
        <source>Removed {name} and deleted its files: {files}.</source>
        <translation>已移除 {name} 并删除了它的文件：{files}。</translation>
    </message>
    <message>
        <source>Removed {name}; its files were already gone.</source>
        <translation>已移除 {name}；它的文件早已不在。</translation>
    </message>
    <message>
        <source>Removed {name} from the list; its file was left at {path}.</source>
        <translation>已把 {name} 从列表中移除；文件仍保留在 {path}。</translation>
    </message>
</context>
<context>
    <name>NoticeBar</name>
    <message>
        <source>Notice</source>
        <translation>提示</translation>
    </message>
    <message>
        <source>Dismiss this notice</source>
        <translation>关闭这条提示</translation>
    </message>
</context>
<context>
    <name>RunsOnBox</name>
    <message>
        <source>Where this conversation runs</source>
        <translation>这个对话在哪里运行</translation>
    </message>
    <message>
        <source>Where this conversation&apos;s replies are computed</source>
        <translation>这个对话的回复由哪台机器计算</translation>
    </message>
    <message>
        <source>This computer</source>
        <translation>本机</translation>
    </message>
    <message>
        <source>{model} on {server}</source>
        <translation>{server} 上的 {model}</translation>
    </message>
    <message>
        <source>Add a server…</source>
        <translation>添加服务器…</translation>
    </message>
</context>
<context>
    <name>Screenshot</name>
    <message>
        <source>Illustration: a staged conversation, not a generated reply</source>
        <translation>示意图：这是编排好的对话，并非模型生成的回复</translation>
    </message>
    <message>
        <source>Illustration: sample models, not files on this computer</source>
        <translation>示意图：这些是示例模型，并非这台电脑上的文件</translation>
    </message>
</context>
<context>
    <name>ServerDialog</name>
    <message>
        <source>This address uses plain http to another computer: the conversation and the API key travel unencrypted; use https or an SSH tunnel if the network is not yours.</source>
        <translation>这个地址通过明文 http 连接另一台电脑：对话内容和 API 密钥都以未加密方式传输；如果网络不归你管理，请使用 https 或 SSH 隧道。</translation>
    </message>
    <message>
        <source>Edit server</source>
        <translation>编辑服务器</translation>
    </message>
    <message>
        <source>Add a server</source>
        <translation>添加服务器</translation>
    </message>
    <message>
        <source>GPU box</source>
        <translation>GPU 主机</translation>
    </message>
    <message>
        <source>none</source>
        <translation>无</translation>
    </message>
    <message>
        <source>only for a server with its own certificate authority</source>
        <translation>仅用于使用自有证书颁发机构的服务器</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <source>List models</source>
        <translation>列出模型</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>Base URL</source>
        <translation>基础网址</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>API 密钥</translation>
    </message>
    <message>
        <source>CA file</source>
        <translation>CA 证书文件</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Listing…</source>
        <translation>正在列出…</translation>
    </message>
    <message>
        <source>The server lists no models.</source>
        <translation>该服务器没有列出任何模型。</translation>
    </message>
    <message>
        <source>Certificate authority</source>
        <translation>证书颁发机构</translation>
    </message>
    <message>
        <source>PEM certificates (*.pem *.crt);;All files (*)</source>
        <translation>PEM 证书 (*.pem *.crt);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Give the server a name.</source>
        <translation>请为服务器起个名称。</translation>
    </message>
    <message>
        <source>Choose the model (List models asks the server).</source>
        <translation>请选择模型（“列出模型”会向服务器查询）。</translation>
    </message>
</context>
<context>
    <name>SettingsPanel</name>
    <message>
        <source>This conversation</source>
        <translation>当前对话</translation>
    </message>
    <message>
        <source>Optional instructions, e.g. “Answer briefly.”</source>
        <translation>可选的指示，例如“回答要简短。”</translation>
    </message>
    <message>
        <source>System prompt</source>
        <translation>系统提示词</translation>
    </message>
    <message>
        <source>Off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Random</source>
        <translation>随机</translation>
    </message>
    <message>
        <source>Default (off on a CPU, wide or tall images on a GPU)</source>
        <translation>默认（CPU：关闭；GPU：宽图和长图）</translation>
    </message>
    <message>
        <source>Wide or tall images</source>
        <translation>过宽或过高的图片</translation>
    </message>
    <message>
        <source>Every large image</source>
        <translation>所有大图</translation>
    </message>
    <message>
        <source>Pan &amp; Scan also shows the model crops of an image, for detail; each crop costs as many tokens as the image, and on a CPU as long an encode (a minute or more).</source>
        <translation>平移扫描会额外把图片的裁切块交给模型，以看清细节；每个裁切块占用的词元与整张图片一样多，在 CPU 上编码也一样久（一分钟或更长）。</translation>
    </message>
    <message>
        <source>Pan and scan</source>
        <translation>平移扫描</translation>
    </message>
    <message>
        <source>Think before answering</source>
        <translation>回答前先思考</translation>
    </message>
    <message>
        <source>The model reasons first; the thought shows, collapsed, above the answer, and Max tokens bounds the answer alone.</source>
        <translation>模型先推理再回答；思考内容折叠显示在回答上方，“最大词元数”只限制回答部分。</translation>
    </message>
    <message>
        <source>Stop when the context is full</source>
        <translation>上下文已满时停止</translation>
    </message>
    <message>
        <source>Otherwise a long conversation goes on: Gemma keeps the first exchange and the newest messages that fit, and a line in the chat shows where what it sees begins.</source>
        <translation>否则长对话会继续：Gemma 保留第一轮问答和放得下的最新消息，对话中会有一条线标出它能看到的内容从哪里开始。</translation>
    </message>
    <message>
        <source>Temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <source>Higher is more varied; 0 always picks the likeliest word.</source>
        <translation>越高越多样；为 0 时总是选择可能性最大的词。</translation>
    </message>
    <message>
        <source>Top-k</source>
        <translation>Top-k</translation>
    </message>
    <message>
        <source>Sample from this many likeliest tokens (Off: all).</source>
        <translation>只从可能性最大的这么多个词元中采样（关闭：全部）。</translation>
    </message>
    <message>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <source>Sample from the likeliest tokens that make up this share.</source>
        <translation>只从累计概率达到这个比例的最可能词元中采样。</translation>
    </message>
    <message>
        <source>Min-p</source>
        <translation>Min-p</translation>
    </message>
    <message>
        <source>Drop tokens less likely than this share of the likeliest.</source>
        <translation>舍弃概率低于最可能词元这一比例的词元。</translation>
    </message>
    <message>
        <source>Repeat penalty</source>
        <translation>重复惩罚</translation>
    </message>
    <message>
        <source>Above 1 discourages repeating words.</source>
        <translation>大于 1 时会抑制重复用词。</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>随机种子</translation>
    </message>
    <message>
        <source>Random: a new seed every reply; a number makes replies repeatable.</source>
        <translation>随机：每次回复使用新的种子；填入数字可让回复可复现。</translation>
    </message>
    <message>
        <source>Max tokens</source>
        <translation>最大词元数</translation>
    </message>
    <message>
        <source>The longest a reply may get.</source>
        <translation>一条回复最多能有多长。</translation>
    </message>
    <message>
        <source>Pan &amp;&amp; Scan</source>
        <translation>平移扫描</translation>
    </message>
    <message>
        <source>Gemma defaults</source>
        <translation>Gemma 默认值</translation>
    </message>
    <message>
        <source>Put the recommended Gemma 3 sampling settings back</source>
        <translation>恢复 Gemma 3 推荐的采样设置</translation>
    </message>
    <message>
        <source>Reset to Gemma defaults</source>
        <translation>恢复 Gemma 默认值</translation>
    </message>
    <message>
        <source>Model runtime (all conversations)</source>
        <translation>模型运行（所有对话）</translation>
    </message>
    <message>
        <source> tokens</source>
        <translation> 个词元</translation>
    </message>
    <message>
        <source>How much of the conversation the model can see; more uses more memory.</source>
        <translation>模型能看到多少对话内容；越大占用的内存越多。</translation>
    </message>
    <message>
        <source>Size the context to this computer</source>
        <translation>按这台电脑确定上下文长度</translation>
    </message>
    <message>
        <source>The largest of 8K to 128K tokens (up to the model&apos;s own) that its memory holds comfortably.</source>
        <translation>在 8K 到 128K 个词元之间（不超过模型自身的上限），取内存能从容容纳的最大值。</translation>
    </message>
    <message>
        <source>CPU threads; the number of physical cores is usually fastest.</source>
        <translation>CPU 线程数；通常设为物理核心数最快。</translation>
    </message>
    <message>
        <source>All</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>Layers to run on the GPU (0: none); ignored without a GPU.</source>
        <translation>在 GPU 上运行的层数（0：不用）；没有 GPU 时忽略。</translation>
    </message>
    <message>
        <source>Flash attention</source>
        <translation>Flash Attention</translation>
    </message>
    <message>
        <source>Faster and leaner attention where the backend supports it.</source>
        <translation>在后端支持时，注意力计算更快、更省内存。</translation>
    </message>
    <message>
        <source>Keep image encodings and conversation memory on disk</source>
        <translation>在磁盘上保存图片编码和对话记忆</translation>
    </message>
    <message>
        <source>After a restart, an image already seen is not encoded again and a conversation is not read again.</source>
        <translation>重启后，已经看过的图片不必重新编码，对话也不必重新读取。</translation>
    </message>
    <message>
        <source> MiB</source>
        <translation> MiB</translation>
    </message>
    <message>
        <source>Disk kept for the memory of recent conversations, so returning to one after a restart continues at once; the least recently used go first.</source>
        <translation>为最近对话的记忆保留的磁盘空间，重启后回到这些对话可立即继续；最久未用的先被清除。</translation>
    </message>
    <message>
        <source>Context size</source>
        <translation>上下文长度</translation>
    </message>
    <message>
        <source>Threads</source>
        <translation>线程数</translation>
    </message>
    <message>
        <source>GPU layers</source>
        <translation>GPU 层数</translation>
    </message>
    <message>
        <source>Conversation memory on disk</source>
        <translation>磁盘上的对话记忆</translation>
    </message>
    <message>
        <source>Conversation memory</source>
        <translation>对话记忆</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>清除</translation>
    </message>
    <message>
        <source>Forget the conversation memory kept on disk and in RAM</source>
        <translation>清除保存在磁盘和内存中的对话记忆</translation>
    </message>
    <message>
        <source>Clear the conversation memory</source>
        <translation>清除对话记忆</translation>
    </message>
    <message>
        <source>Apply and reload</source>
        <translation>应用并重新加载</translation>
    </message>
    <message>
        <source>Apply runtime settings and reload the model</source>
        <translation>应用运行设置并重新加载模型</translation>
    </message>
    <message>
        <source>Window</source>
        <translation>窗口</translation>
    </message>
    <message>
        <source>As the system ({language})</source>
        <translation>跟随系统（{language}）</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <source>The language of the window; it changes at the next start.</source>
        <translation>窗口的语言；下次启动时生效。</translation>
    </message>
    <message>
        <source>Automatic</source>
        <translation>自动</translation>
    </message>
    <message>
        <source>{size} in use</source>
        <translation>已用 {size}</translation>
    </message>
    <message>
        <source>This model handles up to {n} tokens of context.</source>
        <translation>这个模型最多支持 {n} 个词元的上下文。</translation>
    </message>
    <message>
        <source>The window changes to {language} when Gemma Desktop starts again.</source>
        <translation>Gemma Desktop 下次启动时，窗口将改为{language}。</translation>
    </message>
</context>
<context>
    <name>Sizes</name>
    <message>
        <source>{n} bytes</source>
        <translation>{n} 字节</translation>
    </message>
</context>
<context>
    <name>Widgets</name>
    <message>
        <source>Dismiss</source>
        <translation>关闭</translation>
    </message>
</context>
</TS>
