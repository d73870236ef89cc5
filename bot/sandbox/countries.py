"""The sandbox's countries: real ISO 3166-1 codes, English names, phone formats.

Numeric ids follow the order of ``_TABLE`` and never change: id 7 is Malaysia
as in the provider's documentation. Each entry reads
``slug:calling code:mobile prefix:national number length``; the phone formats
follow the example mobile numbers of libphonenumber's metadata.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

from babel import Locale

_TABLE = """
    ru:7:91:10 ua:380:50:9 kz:7:77:10 cn:86:13:11 ph:63:90:10 mm:95:92:8 id:62:81:9
    my:60:12:9 ke:254:71:9 tz:255:62:9 vn:84:91:9 kg:996:70:9 us:1:20:10 il:972:50:9
    hk:852:51:8 pl:48:51:9 gb:44:74:10 mg:261:32:9 cd:243:99:9 ng:234:80:10 mo:853:66:8
    eg:20:10:10 in:91:81:10 ie:353:85:9 kh:855:91:8 la:856:20:10 ht:509:34:8 ci:225:12:9
    gm:220:30:7 rs:381:60:9 ye:967:71:9 za:27:71:9 ro:40:71:9 co:57:32:10 ee:372:51:8
    az:994:40:9 ca:1:50:10 ma:212:65:9 gh:233:23:9 ar:54:91:11 uz:998:91:9 cm:237:67:9
    td:235:63:8 de:49:15:11 lt:370:61:8 hr:385:92:9 se:46:70:9 iq:964:79:10 nl:31:61:9
    lv:371:21:8 at:43:66:9 by:375:29:9 th:66:81:9 sa:966:51:9 mx:52:22:10 tw:886:91:9
    es:34:61:9 ir:98:91:10 dz:213:55:9 si:386:31:8 bd:880:18:10 sn:221:70:9 tr:90:50:10
    cz:420:60:9 lk:94:71:9 pe:51:91:9 pk:92:30:10 nz:64:21:9 gn:224:60:9 ml:223:65:8
    ve:58:41:10 et:251:91:9 mn:976:88:8 br:55:11:11 af:93:70:9 ug:256:71:9 ao:244:92:9
    cy:357:96:8 fr:33:61:9 pg:675:70:8 mz:258:82:9 np:977:98:10 be:32:45:9 bg:359:43:8
    hu:36:20:9 md:373:62:8 it:39:31:10 py:595:96:9 hn:504:91:8 tn:216:20:8 ni:505:81:8
    tl:670:77:8 bo:591:71:8 cr:506:83:8 gt:502:51:8 ae:971:50:9 zw:263:71:9 pr:1:78:10
    sd:249:91:9 tg:228:90:8 kw:965:50:8 sv:503:70:8 ly:218:91:9 jm:1:87:10 tt:1:86:10
    ec:593:99:9 sz:268:76:8 om:968:92:8 ba:387:61:8 do:1:80:10 sy:963:94:9 qa:974:33:8
    pa:507:61:8 cu:53:51:8 mr:222:22:8 sl:232:25:8 jo:962:79:9 pt:351:91:9 bb:1:24:10
    bi:257:79:8 bj:229:19:9 bn:673:71:7 bs:1:24:10 bw:267:71:8 bz:501:62:7 cf:236:70:8
    dm:1:76:10 gd:1:47:10 ge:995:55:9 gr:30:69:10 gw:245:95:9 gy:592:60:7 is:354:61:7
    km:269:32:7 kn:1:86:10 lr:231:77:9 ls:266:50:8 mw:265:99:9 na:264:81:9 ne:227:93:8
    rw:250:72:9 sk:421:91:9 sr:597:74:7 tj:992:91:9 mc:377:61:9 bh:973:36:8 re:262:69:9
    zm:260:95:9 am:374:77:8 so:252:71:8 cg:242:61:8 cl:56:22:9 bf:226:70:8 lb:961:71:8
    ga:241:60:7 al:355:67:9 uy:598:94:8 mu:230:52:8 bt:975:17:8 mv:960:77:7 gp:590:69:9
    tm:993:66:8 gf:594:69:9 fi:358:41:9 lc:1:75:10 lu:352:62:9 vc:1:78:10 gq:240:22:9
    dj:253:77:8 ag:1:26:10 ky:1:34:10 me:382:60:8 dk:45:34:8 ch:41:78:9 no:47:40:8
    au:61:41:9 er:291:71:7 ss:211:97:9 st:239:98:7 aw:297:56:7 ms:1:66:10 ai:1:26:10
    jp:81:90:10 mk:389:72:8 sc:248:25:7 nc:687:75:6 cv:238:99:7 fj:679:70:7 kr:82:10:10
    sg:65:81:8 mt:356:96:8 ws:685:72:7 to:676:77:7 vu:678:59:7 sb:677:74:7 ki:686:72:8
    pw:680:62:7 fm:691:35:7 mh:692:23:7 nr:674:55:7 tv:688:90:6
"""


@dataclass(frozen=True, slots=True)
class Country:
    """A country numbers can be rented in."""

    id: int
    slug: str
    name: str
    calling_code: str
    mobile_prefix: str
    national_length: int

    def random_phone(self, rng: random.Random) -> str:
        """Returns a plausible E.164 mobile number of this country."""
        rest = self.national_length - len(self.mobile_prefix)
        digits = "".join(rng.choice("0123456789") for _ in range(rest))
        return f"+{self.calling_code}{self.mobile_prefix}{digits}"


@cache
def all_countries() -> tuple[Country, ...]:
    """Returns every country, ordered by id."""
    names = Locale("en").territories
    countries = []
    for index, entry in enumerate(_TABLE.split()):
        slug, calling_code, prefix, length = entry.split(":")
        countries.append(
            Country(
                id=index,
                slug=slug,
                name=names[slug.upper()],
                calling_code=calling_code,
                mobile_prefix=prefix,
                national_length=int(length),
            )
        )
    return tuple(countries)
