"""Main-text extraction from HTML: trafilatura as the base, then a Chinese-aware line cleanup."""

from __future__ import annotations

import re

# Lines that are navigation, contact or page furniture on Chinese (and English) pages.
_NAV_WORDS = (
    "首页",
    "上一页",
    "下一页",
    "上一篇",
    "下一篇",
    "返回顶部",
    "返回首页",
    "网站地图",
    "设为首页",
    "加入收藏",
    "联系我们",
    "关于我们",
    "版权所有",
    "免责声明",
    "友情链接",
    "当前位置",
    "您的位置",
    "责任编辑",
    "扫一扫",
    "分享到",
    "点击查看",
    "相关阅读",
    "相关文章",
    "热门推荐",
    "登录",
    "注册",
    "ICP备",
    "公网安备",
)
_CONTACT_RE = re.compile(r"(电话|手机|传真|邮箱|地址|邮编|QQ|微信|Tel|Fax|E-?mail)\s*[:：]", re.IGNORECASE)
_SEPARATORS_RE = re.compile(r"^[\s|｜/>»›·•\-—_=*#]+$")


def chinese_cleanup(text: str) -> str:
    """Drop short navigation / contact / copyright lines and empty titles; keep everything else in order."""
    kept = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or _SEPARATORS_RE.match(line):
            continue
        short = len(line) <= 40
        if short and any(word in line for word in _NAV_WORDS):
            continue
        if short and _CONTACT_RE.search(line):
            continue
        if short and line.count("|") + line.count("｜") + line.count(">") >= 2:
            continue  # breadcrumbs and menus
        kept.append(line)
    return "\n".join(kept)


def extract_main_text(html: str, chinese_cleanup: bool = True, favor_recall: bool = True) -> str:
    """trafilatura's main text (no comments, tables kept), optionally followed by :func:`chinese_cleanup`."""
    import trafilatura

    text = (
        trafilatura.extract(
            html, include_comments=False, include_tables=True, favor_recall=favor_recall, deduplicate=False
        )
        or ""
    )
    return globals()["chinese_cleanup"](text) if chinese_cleanup else text
