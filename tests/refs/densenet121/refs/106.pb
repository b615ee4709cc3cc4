
BoutputJ(ãŠ‹>dž=ü¼GÀM¶Ë?VŸ@³%p¿ºK
¿™‹D?‹:PÀs}ƒ@